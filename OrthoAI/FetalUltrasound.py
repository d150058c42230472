"""FetalUltrasound: fetal head biometry on an ultrasound still, and the inference server's results live.

Thin module file: widgets, parameter node and a timer. The pipeline lives in
``OrthoAILib.pipelines.fetal`` (core), the nodes and the live measures in ``OrthoAILib.mrml.fetal``
(bridge), Apply on a node and the server listener in ``OrthoAILib.apps.fetal_node`` (apps).
"""

from typing import Annotated

import qt

import slicer
from slicer.i18n import tr as _
from slicer.i18n import translate
from slicer.parameterNodeWrapper import WithinRange, parameterNodeWrapper
from slicer.ScriptedLoadableModule import ScriptedLoadableModule, ScriptedLoadableModuleLogic, ScriptedLoadableModuleTest
from slicer import vtkMRMLMarkupsClosedCurveNode, vtkMRMLScalarVolumeNode, vtkMRMLTableNode

from OrthoAIModuleSupport.selftest import run_test_methods
from OrthoAIModuleSupport.widget import ParameterNodeWidget

POLL_INTERVAL_MS = 1000
POLL_TIMEOUT_S = 2.0  # per request of a poll (results, then up to three files)
HEATMAP_OPACITY = 0.6


class FetalUltrasound(ScriptedLoadableModule):
    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = _("Fetal head ultrasound")
        self.parent.categories = [translate("qSlicerAbstractCoreModule", "OrthoAI")]
        self.parent.dependencies = ["OrthoAI", "Markups", "Segmentations", "Tables"]
        self.parent.contributors = ["OrthoAI developers"]
        self.parent.helpText = _(
            "Fetal head circumference, biparietal and occipitofrontal diameters, cephalic index, growth centile and "
            "head-shape class from an ultrasound still, with a heatmap of what the classifier looked at. The head "
            "ellipse stays editable: drag its points and the measures follow. Listen to the OrthoAI inference server "
            "to see each still the scanner sends as it is analysed. Research use only; not for clinical use."
        )
        self.parent.acknowledgementText = _("OrthoAI, an open-source 3D Slicer extension. HC18 (van den Heuvel et al., "
                                            "PLoS ONE 2018) trained the head segmentation.")


@parameterNodeWrapper
class FetalUltrasoundParameterNode:
    inputVolume: vtkMRMLScalarVolumeNode  # grey or RGB (vector volumes are scalar volumes' subclass)
    pixelSizeMm: Annotated[float, WithinRange(0.0, 5.0)] = 0.0  # 0: from the image
    gaWeeks: Annotated[float, WithinRange(0.0, 45.0)] = 0.0  # 0: not given
    headCurve: vtkMRMLMarkupsClosedCurveNode
    measuresTable: vtkMRMLTableNode


class FetalUltrasoundWidget(ParameterNodeWidget):
    def createLogic(self):
        return FetalUltrasoundLogic()

    def setupConnections(self) -> None:
        ui = self.ui
        ui.applyButton.connect("clicked(bool)", self.onApply)
        ui.cancelButton.connect("clicked(bool)", self.onCancel)
        ui.cancelButton.enabled = False
        ui.loadImageButton.connect("clicked(bool)", self.onLoadImage)
        ui.loadDicomButton.connect("clicked(bool)", self.onLoadDicom)
        ui.resetButton.connect("clicked(bool)", self.onReset)
        ui.heatmapCheckBox.connect("toggled(bool)", self.onShowHeatmap)
        ui.listenCheckBox.connect("toggled(bool)", self.onListenToggled)
        # Shown at the minimum, 0. (Plain QDoubleSpinBoxes: Slicer 5.8's parameter node binds a float to a
        # QDoubleSpinBox or a ctkSliderWidget only.)
        ui.pixelSizeSpinBox.specialValueText = _("from the image")
        ui.gaWeeksSpinBox.specialValueText = _("not given")
        self.pollTimer = qt.QTimer()
        self.pollTimer.setInterval(POLL_INTERVAL_MS)
        self.pollTimer.connect("timeout()", self.onPoll)

    def cleanup(self) -> None:
        self.pollTimer.stop()
        ParameterNodeWidget.cleanup(self)
        self.logic.stopFollowing()

    def onSceneStartClose(self, caller, event) -> None:
        self.ui.listenCheckBox.checked = False  # stops the timer and the listener
        self.logic.stopFollowing()
        ParameterNodeWidget.onSceneStartClose(self, caller, event)

    def onParameterNodeModified(self, caller=None, event=None) -> None:
        p = self._parameterNode
        self.ui.applyButton.enabled = p is not None and p.inputVolume is not None
        self.ui.resetButton.enabled = p is not None and self.logic.linkOf(p.headCurve) is not None

    def _busyButtons(self) -> list:
        return [self.ui.applyButton, self.ui.loadImageButton, self.ui.loadDicomButton, self.ui.resetButton]

    def onLoadImage(self) -> None:
        slicer.util.openAddDataDialog()

    def onLoadDicom(self) -> None:
        slicer.util.selectModule("DICOM")

    def onApply(self) -> bool:
        p = self._parameterNode
        fetal = self.runWithProgress(
            lambda progress, cancel: self.logic.analyse(
                p.inputVolume, pixelSizeMm=p.pixelSizeMm or None, gaWeeks=p.gaWeeks or None,
                progress=progress, cancel=cancel, onUpdate=self._showMeasures),
            self._busyButtons(), _("Fetal head analysis failed; the scene is unchanged."),
            _("Analysis cancelled; the scene is unchanged."))
        if fetal is None:
            return False
        self._show(fetal)
        return fetal.measured

    def _show(self, fetal) -> None:
        from OrthoAILib.apps.fetal_node import summary_text

        p = self._parameterNode
        p.headCurve, p.measuresTable = fetal.curve, fetal.table
        self.ui.measuresTableView.setMRMLTableNode(fetal.table)
        self.logic.showResult(fetal, showHeatmap=self.ui.heatmapCheckBox.checked)
        self.ui.statusLabel.text = summary_text(fetal.result, fetal.link.measures if fetal.link else None)

    def _showMeasures(self, link) -> None:
        """After an edit of the ellipse: its measures, or what keeps it from being measured."""
        from OrthoAILib.apps.fetal_node import summary_text

        fetal = self.logic.resultOf(link.curve_node)
        measured = fetal is not None and link.measures is not None
        self.ui.statusLabel.text = summary_text(fetal.result, link.measures) if measured else link.status

    def onReset(self) -> None:
        with slicer.util.tryWithErrorDisplay(_("Could not reset the ellipse."), waitCursor=True):
            self.logic.resetEllipse(self._parameterNode.headCurve)

    def onShowHeatmap(self, show: bool) -> None:
        fetal = self.logic.resultOf(self._parameterNode.headCurve) if self._parameterNode else None
        if fetal is not None:
            self.logic.showResult(fetal, showHeatmap=show)

    # -- listening to the inference server --------------------------------------------------------
    def onListenToggled(self, listen: bool) -> None:
        if not listen:
            self.pollTimer.stop()
            self.logic.stopListening()
            self.ui.serverStatusLabel.text = _("Not listening.")
            return
        try:
            with slicer.util.tryWithErrorDisplay(_("Could not listen to the server."), waitCursor=True):
                url = self.ui.serverUrlLineEdit.text.strip()
                self.logic.startListening(url, self.ui.serverTokenLineEdit.text.strip())
        except Exception:
            self.ui.listenCheckBox.checked = False
            return
        self.ui.serverStatusLabel.text = _("Listening to {url}").format(url=url)
        self.pollTimer.start()
        self.onPoll()

    def onPoll(self) -> None:
        if self._busy.active:  # an analysis is running: its Cancel must leave the scene as it was
            return
        try:
            with slicer.util.tryWithErrorDisplay(_("A server result could not be shown; listening stopped.")):
                received = self.logic.poll(onUpdate=self._showMeasures)
        except Exception:
            self.ui.listenCheckBox.checked = False
            return
        if received:
            latest = received[-1]
            self._show(latest.fetal)
            self.ui.serverStatusLabel.text = _("{count} new; latest: {source}, received {time}").format(
                count=len(received), source=latest.source, time=latest.received_utc)
        elif self.logic.listener is not None and self.logic.listener.error:
            self.ui.serverStatusLabel.text = self.logic.listener.error


class FetalUltrasoundLogic(ScriptedLoadableModuleLogic):
    """Console use::

        logic = slicer.util.getModuleLogic("FetalUltrasound")
        fetal = logic.analyse(getNode("still"), pixelSizeMm=0.12, gaWeeks=22.4)   # curve, segmentation, heatmap, table
        print(fetal.result.to_json())
        logic.resetEllipse(fetal.curve)                                           # undo edits of the ellipse
        logic.startListening("http://127.0.0.1:8765", "token"); logic.poll()      # the inference server's results
    """

    def __init__(self) -> None:
        ScriptedLoadableModuleLogic.__init__(self)
        self.results = []  # FetalScene of every result shown; their measures follow their curves
        self.listener = None
        self._pipeline = None

    def getParameterNode(self):
        return FetalUltrasoundParameterNode(super().getParameterNode())

    def pipeline(self):
        """The fetal head pipeline (segmenter and classifier), loaded once per session (checksums verified)."""
        if self._pipeline is None:
            from OrthoAIModuleSupport.pipelines import load_pipeline

            self._pipeline = load_pipeline("FetalUltrasound", "fetal")
        return self._pipeline

    def analyse(self, volumeNode, pixelSizeMm=None, gaWeeks=None, progress=None, cancel=None, onUpdate=None):
        """Ellipse curve, head segmentation, heatmap and measure table for the still in ``volumeNode``.

        The scene changes only after the analysis succeeded. Returns ``OrthoAILib.mrml.fetal.scene.FetalScene``
        (its ``result`` is the pipeline's ``FetalResult``).
        """
        from OrthoAILib.apps.fetal_node import analyse_volume

        if volumeNode is None:
            raise ValueError(_("Choose the ultrasound still first."))
        _result, fetal = analyse_volume(volumeNode, self.pipeline(), pixel_size_mm=pixelSizeMm, ga_weeks=gaWeeks,
                                        progress=progress, cancel=cancel)
        return self._follow(fetal, onUpdate)

    def addResults(self, volumeNode, result, onUpdate=None):
        """The nodes of a ``FetalResult`` computed elsewhere (the console, a batch) for ``volumeNode``."""
        from OrthoAILib.mrml.fetal.scene import add_fetal_results

        return self._follow(add_fetal_results(volumeNode, result), onUpdate)

    def _follow(self, fetal, onUpdate=None):
        if fetal.link is not None:
            fetal.link.on_update = onUpdate
        self.results.append(fetal)
        return fetal

    def resultOf(self, curveNode):
        return next((fetal for fetal in reversed(self.results) if curveNode is not None and fetal.curve is curveNode), None)

    def linkOf(self, curveNode):
        fetal = self.resultOf(curveNode)
        return fetal.link if fetal is not None else None

    def resetEllipse(self, curveNode) -> None:
        """Put the ellipse back where the model placed it (the measures follow)."""
        link = self.linkOf(curveNode)
        if link is None:
            raise ValueError(_("This ellipse is not followed in this session; run the analysis again."))
        link.reset()

    def showResult(self, fetal, showHeatmap: bool = True) -> None:
        """The still in the slice views, in its own plane, with the heatmap over it."""
        foreground = fetal.heatmap if showHeatmap and fetal.heatmap is not None else None
        slicer.util.setSliceViewerLayers(background=fetal.volume, foreground=foreground,
                                         foregroundOpacity=HEATMAP_OPACITY, fit=True, rotateToVolumePlane=True)

    def startListening(self, url: str, token: str = "") -> None:
        """Follow the inference server at ``url``; ``poll()`` then shows what it analyses."""
        from OrthoAILib.apps.fetal_client import FetalServerClient

        if not url:
            raise ValueError(_("Give the server's address, e.g. http://127.0.0.1:8765."))
        # polled from the panel's timer on the GUI thread: an unreachable server must not hold Slicer for long
        self.listenTo(FetalServerClient(url, token, timeout_s=POLL_TIMEOUT_S))

    def listenTo(self, client) -> None:
        from OrthoAILib.apps.fetal_node import ResultListener

        self.stopListening()
        self.listener = ResultListener(client, slicer.mrmlScene)

    def poll(self, onUpdate=None) -> list:
        """New server results, each added to the scene (never waits for the server)."""
        if self.listener is None:
            return []
        received = self.listener.poll()
        for item in received:
            self._follow(item.fetal, onUpdate)
        return received

    def stopListening(self) -> None:
        self.listener = None  # results already shown keep following their curves

    def stopFollowing(self) -> None:
        for fetal in self.results:
            fetal.detach()
        self.results = []


class FetalUltrasoundTest(ScriptedLoadableModuleTest):
    def setUp(self):
        slicer.mrmlScene.Clear()

    def runTest(self):
        # Each test after setUp(); a skipped test is reported as skipped, not as a failure of the whole run.
        run_test_methods(self, ("test_measures_follow_an_edited_ellipse", "test_refused_still_gets_a_status_table",
                                "test_server_result_is_shown", "test_analysis_of_a_synthetic_still"),
                         report=self.delayDisplay)

    @staticmethod
    def _still(pixelSizeMm=0.15):
        """A synthetic still with an elliptical head, and the result a pipeline would give for it."""
        import numpy as np

        from OrthoAILib.geometry import radiograph_geometry
        from OrthoAILib.mrml.volumes import volume_from_array
        from OrthoAILib.pipelines.fetal.ellipse import Ellipse
        from OrthoAILib.pipelines.fetal.pipeline import FetalResult, measure_ellipse

        head = Ellipse((200.0, 140.0), (110.0, 85.0), 20.0)
        shape = (280, 400)
        pixels = (np.random.default_rng(0).random(shape) * 60 + 140 * head.mask(shape)).astype(np.uint8)
        geometry = radiograph_geometry(shape, (pixelSizeMm, pixelSizeMm))
        volume = volume_from_array(pixels, geometry, "Synthetic still")
        result = FetalResult("Synthetic still", geometry, "ok", "", None, (pixelSizeMm, pixelSizeMm), "volume spacing",
                             measure_ellipse(head, (pixelSizeMm, pixelSizeMm), 22.0), "normal", {"normal": 0.9},
                             head.mask(shape), head.mask(shape).astype(np.float32))
        return volume, result

    @staticmethod
    def _hc(table) -> float:
        from OrthoAILib.mrml.tables import records_from_table

        return next(row["Value"] for row in records_from_table(table) if row["Key"] == "hc_mm")

    def test_measures_follow_an_edited_ellipse(self):
        self.delayDisplay("Measures follow the ellipse")
        logic = FetalUltrasoundLogic()
        volume, result = self._still()
        fetal = logic.addResults(volume, result)
        logic.showResult(fetal)
        before = self._hc(fetal.table)
        self.assertAlmostEqual(before, round(result.measures.biometry.hc_mm, 2), places=2)
        position = fetal.curve.GetNthControlPointPositionWorld(0)
        fetal.curve.SetNthControlPointPositionWorld(0, position[0] + 4.0, position[1], position[2] - 4.0)
        self.assertNotAlmostEqual(before, self._hc(fetal.table), places=1)
        logic.resetEllipse(fetal.curve)
        self.assertAlmostEqual(before, self._hc(fetal.table), places=2)
        logic.stopFollowing()
        self.delayDisplay("Test passed")

    def test_refused_still_gets_a_status_table(self):
        import dataclasses

        logic = FetalUltrasoundLogic()
        volume, result = self._still()
        refused = dataclasses.replace(result, status="no_head", message="no fetal head found", measures=None,
                                      mask=None, heatmap=None)
        fetal = logic.addResults(volume, refused)
        self.assertIsNone(fetal.curve)
        self.assertEqual(fetal.table.GetAttribute("OrthoAI.Status"), "no_head: no fetal head found")
        self.assertEqual(slicer.mrmlScene.GetNumberOfNodesByClass("vtkMRMLSegmentationNode"), 0)

    def test_server_result_is_shown(self):
        from OrthoAILib.apps.fetal import png_bytes
        from OrthoAILib.mrml.volumes import array_from_volume
        from OrthoAILib.pipelines.fetal.heatmap import fuse

        volume, result = self._still()
        plane = array_from_volume(volume)[0][0]
        files = {"still": png_bytes(plane), "mask": png_bytes(result.mask.astype("uint8") * 255),
                 "heatmap": png_bytes(fuse(plane.astype("float32"), result.heatmap))}

        class OneResultServer:
            def results_after(self, last_id, wait_s=0):
                return [] if last_id == 7 else [{"id": 7, "received_utc": "now", "source": "scan.dcm",
                                                 "result": result.to_json()}]

            def file(self, identifier, name):
                return files[name]

        logic = FetalUltrasoundLogic()
        logic.listenTo(OneResultServer())
        (received,) = logic.poll()
        self.assertEqual(logic.poll(), [])
        self.assertAlmostEqual(self._hc(received.fetal.table), round(result.measures.biometry.hc_mm, 2), places=1)
        logic.showResult(received.fetal)
        logic.stopListening()
        logic.stopFollowing()
        self.delayDisplay("Test passed")

    def test_analysis_of_a_synthetic_still(self):
        import importlib.util

        from OrthoAILib.errors import ModelError

        for package in ("torch", "skimage"):
            if importlib.util.find_spec(package) is None:
                self.skipTest(f"{package} is needed (PyTorch extension, OrthoAI/Resources/requirements.txt)")
        logic = FetalUltrasoundLogic()
        volume, _ = self._still()
        try:
            fetal = logic.analyse(volume, gaWeeks=22.0)
        except ModelError as error:
            self.skipTest(f"fetal head models are not available: {error}")
        self.assertIsNotNone(fetal.table.GetAttribute("OrthoAI.Status"))  # measured or refused, the table says which
        logic.stopFollowing()
        self.delayDisplay("Test passed")
