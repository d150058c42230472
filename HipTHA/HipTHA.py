"""HipTHA: hip-arthroplasty measures from keypoints on an AP pelvis radiograph.

Thin module file: widgets and parameter node only. The measures live in
``OrthoAILib.pipelines.hip`` (core), the live link to the scene in
``OrthoAILib.mrml.hip`` (bridge), and detection on a node and batch in
``OrthoAILib.apps.hip`` (apps).
"""

import logging
from typing import Annotated, Optional

import os
import sys

import slicer
from slicer.i18n import tr as _
from slicer.i18n import translate
from slicer.parameterNodeWrapper import Choice, WithinRange, parameterNodeWrapper
from slicer.ScriptedLoadableModule import ScriptedLoadableModule, ScriptedLoadableModuleLogic, ScriptedLoadableModuleTest
from slicer import vtkMRMLMarkupsFiducialNode, vtkMRMLScalarVolumeNode, vtkMRMLTableNode

try:
    from OrthoAIModuleSupport.widget import ParameterNodeWidget
except ModuleNotFoundError:  # run from the source tree: the shared code sits beside, in OrthoAI/
    sys.path.append(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "OrthoAI"))
    from OrthoAIModuleSupport.widget import ParameterNodeWidget
from OrthoAIModuleSupport.selftest import run_test_methods


class HipTHA(ScriptedLoadableModule):
    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = _("Hip THA measures")
        self.parent.categories = [translate("qSlicerAbstractCoreModule", "OrthoAI")]
        self.parent.dependencies = ["OrthoAI", "Markups", "Tables"]  # OrthoAI loads the shared library first
        self.parent.contributors = ["OrthoAI developers"]
        self.parent.helpText = _(
            "Cup abduction angle, bone coverage and rotation-centre offsets from nine keypoints on an AP pelvis "
            "radiograph after total hip arthroplasty. Place the points (or load them); lines and the measure table "
            "follow every drag. Give the true cup diameter to correct radiographic magnification. "
            "Research use only; not for clinical use."
        )
        self.parent.acknowledgementText = _("OrthoAI, an open-source 3D Slicer extension.")


@parameterNodeWrapper
class HipTHAParameterNode:
    inputVolume: vtkMRMLScalarVolumeNode
    pixelSpacingMm: Annotated[float, WithinRange(0.0, 2.0)] = 0.0  # 0: the volume's own spacing
    operatedSide: Annotated[str, Choice(["auto", "right", "left", "both"])] = "auto"
    landmarks: vtkMRMLMarkupsFiducialNode
    measuresTable: vtkMRMLTableNode
    cupDiameterMm: Annotated[float, WithinRange(0.0, 80.0)] = 0.0  # 0: not given, lengths uncalibrated


class HipTHAWidget(ParameterNodeWidget):
    def createLogic(self):
        return HipTHALogic()

    def setupConnections(self) -> None:
        self.ui.detectButton.connect("clicked(bool)", self.onDetect)
        self.ui.cancelButton.connect("clicked(bool)", self.onCancel)
        self.ui.resetButton.connect("clicked(bool)", self.onReset)
        self.ui.exportButton.connect("clicked(bool)", self.onExport)
        self.ui.cancelButton.enabled = False
        self.ui.createLandmarksButton.connect("clicked(bool)", self.onCreateLandmarks)
        self.ui.loadDemoButton.connect("clicked(bool)", self.onLoadDemo)
        self.ui.applyButton.connect("clicked(bool)", self.onApply)
        self.ui.cupDiameterSpinBox.connect("valueChanged(double)", self.onCupDiameterChanged)
        # Shown at the minimum, 0. (Plain QDoubleSpinBoxes: Slicer 5.8's parameter node binds a float to a
        # QDoubleSpinBox or a ctkSliderWidget only.)
        self.ui.pixelSpacingSpinBox.specialValueText = _("from the image")
        self.ui.cupDiameterSpinBox.specialValueText = _("not given (lengths uncalibrated)")

    def cleanup(self) -> None:
        ParameterNodeWidget.cleanup(self)
        self.logic.stopFollowing()

    def onSceneStartClose(self, caller, event) -> None:
        self.logic.stopFollowing()
        ParameterNodeWidget.onSceneStartClose(self, caller, event)

    def onParameterNodeModified(self, caller=None, event=None) -> None:
        landmarks = self._parameterNode.landmarks if self._parameterNode else None
        volume = self._parameterNode.inputVolume if self._parameterNode else None
        self.ui.applyButton.enabled = landmarks is not None
        self.ui.detectButton.enabled = volume is not None  # kept disabled while detection runs (base class)
        self.ui.resetButton.enabled = self.logic.hasModelPoints(landmarks)
        self.ui.exportButton.enabled = bool(self.logic.allLinks())
        self.ui.landmarksWidget.setCurrentNode(landmarks)

    def _busyButtons(self) -> list:
        ui = self.ui
        return [ui.detectButton, ui.loadDemoButton, ui.applyButton, ui.createLandmarksButton, ui.resetButton, ui.exportButton]

    def onDetect(self) -> bool:
        p = self._parameterNode
        case = self.runWithProgress(
            lambda progress, cancel: self.logic.detect(
                p.inputVolume, cupDiameterMm=p.cupDiameterMm or None, spacingMm=p.pixelSpacingMm or None,
                side=p.operatedSide, progress=progress, cancel=cancel, onUpdate=self._showStatus),
            self._busyButtons(), _("Keypoint detection failed; the scene is unchanged."),
            _("Detection cancelled; the scene is unchanged."))
        if case is None:
            return False
        if not case.sides:  # refused: nothing was placed; say what was found instead
            self.ui.statusLabel.text = _("Not measured ({status}): {reason}").format(
                status=case.status, reason=" ".join(r.message for r in case.refused))
            return False
        first = next(iter(self.logic.links.values()))
        p.landmarks, p.measuresTable = first.landmarks_node, first.table_node
        self.ui.measuresTableView.setMRMLTableNode(first.table_node)
        sides = ", ".join(side.operated_side for side in case.sides)
        self.ui.statusLabel.text = _("Operated side: {sides}. {warnings}").format(sides=sides, warnings=" ".join(case.warnings))
        return True

    def onReset(self) -> None:
        with slicer.util.tryWithErrorDisplay(_("Could not reset the points."), waitCursor=True):
            self.logic.resetToModelPoints(self._parameterNode.landmarks)

    def onExport(self) -> None:
        import qt

        folder = qt.QFileDialog.getExistingDirectory(self.parent, _("Folder for the report"))
        if not folder:
            return
        with slicer.util.tryWithErrorDisplay(_("Could not export the report."), waitCursor=True):
            files = self.logic.exportReport(folder, self._parameterNode.inputVolume)
            self.ui.statusLabel.text = _("Report written: {files}").format(files=", ".join(files.values()))

    def onCreateLandmarks(self) -> None:
        with slicer.util.tryWithErrorDisplay(_("Could not create the landmark set."), waitCursor=True):
            self._parameterNode.landmarks = self.logic.createLandmarks()
            self.ui.landmarksWidget.setCurrentNode(self._parameterNode.landmarks)
            self.ui.landmarksWidget.placeActive(True)  # clicks on the film now place the points in order
            self.onApply()

    def onLoadDemo(self) -> None:
        loaded = False
        with slicer.util.tryWithErrorDisplay(_("Could not create the demo radiograph."), waitCursor=True):
            volume, truth = self.logic.loadDemoRadiograph()
            truth.SetDisplayVisibility(False)  # kept for comparison, hidden
            self._parameterNode.inputVolume = volume
            self._parameterNode.cupDiameterMm = round(self.logic.demoCupDiameterMm, 1)
            self.logic.showRadiograph(volume)
            loaded = True
        if loaded:
            self.onDetect()

    def onApply(self) -> None:
        with slicer.util.tryWithErrorDisplay(_("Could not compute the hip measures."), waitCursor=True):
            p = self._parameterNode
            link = self.logic.follow(p.landmarks, volumeNode=p.inputVolume, tableNode=p.measuresTable,
                                     cupDiameterMm=p.cupDiameterMm or None, onUpdate=self._showStatus)
            p.measuresTable = link.table_node
            self.ui.measuresTableView.setMRMLTableNode(link.table_node)
            self._showStatus(link)

    def onCupDiameterChanged(self, value: float) -> None:
        for link in self.logic.allLinks():
            link.set_cup_diameter(value or None)

    def _showStatus(self, link) -> None:
        self.ui.statusLabel.text = link.status


class HipTHALogic(ScriptedLoadableModuleLogic):
    """Console use::

        logic = slicer.util.getModuleLogic("HipTHA")
        case = logic.detect(getNode("AP pelvis"), cupDiameterMm=52)   # keypoints, lines, tables per operated side
        print(case.to_json())
        logic.resetToModelPoints(getNode("Hip landmarks"))              # undo corrections
        logic.exportReport("/tmp/report")                               # PNG, CSV, JSON
        summary = logic.processFiles("/data/films", "/tmp/out")          # a folder of radiographs
        measures = logic.measure(getNode("Hip landmarks"), cupDiameterMm=52)   # points placed by hand
        link = logic.follow(getNode("Hip landmarks"))                   # live lines and table
    """

    def __init__(self) -> None:
        ScriptedLoadableModuleLogic.__init__(self)
        self.link = None  # manual placement: one followed landmark set
        self.links = {}  # after detection: operated side -> live link
        self.lastCase = None
        self._pipeline = None
        self.demoCupDiameterMm = 0.0

    def pipeline(self):
        """The hip pipeline (detector and refiner), loaded once per session (checksums verified)."""
        if self._pipeline is None:
            from OrthoAIModuleSupport.pipelines import load_pipeline

            self._pipeline = load_pipeline("HipTHA", "hip")
        return self._pipeline

    def detect(self, volumeNode, cupDiameterMm=None, spacingMm=None, side="auto", progress=None, cancel=None, onUpdate=None):
        """Keypoints from the radiograph in ``volumeNode``: landmarks, lines and tables per operated side.

        The scene changes only after detection succeeded; Cancel or an error leaves it as it was.
        Returns ``OrthoAILib.pipelines.hip.pipeline.HipCaseResult``.
        """
        from OrthoAILib.apps.hip import detect_on_volume

        if volumeNode is None:
            raise ValueError(_("Choose the radiograph first."))
        case, scene = detect_on_volume(volumeNode, self.pipeline(), cup_diameter_mm=cupDiameterMm, spacing_mm=spacingMm,
                                       side=side, progress=progress, cancel=cancel)
        if not case.sides:  # refused (no prosthesis, not an AP pelvis...): nothing was added, earlier results stay
            self.lastCase = case
            return case
        self.stopFollowing()  # only now: a cancelled or failed detection keeps the earlier results live
        for link in scene.links.values():
            link.on_update = onUpdate
        self.links, self.lastCase = scene.links, case
        return case

    def processFiles(self, source, outputFolder, cupDiameterMm=None, spacingMm=None, side="auto", workers=1, resume=False):
        """Batch from the Python console, through the same runner as ``orthoai hip``: a radiograph, a folder
        (searched recursively) or a list file -> landmarks (.mrk.json), measures (.measures.json) and one
        hip_measures.csv in ``outputFolder``; cases that fail are recorded and the others go on.
        (Scene bundles and pictures per film: ``orthoai hip``.) Returns the run's ``BatchSummary``."""
        from pathlib import Path

        from OrthoAILib.apps.batch import run_batch
        from OrthoAILib.apps.hip import HipJob

        self.pipeline()  # dependencies first; the runner then reuses the loaded models in this process
        job = HipJob(cup_diameter_mm=cupDiameterMm, spacing_mm=spacingMm, side=side, write_scene=False)
        job.validate()
        return run_batch(job, Path(source), Path(outputFolder), workers=workers, resume=resume, log=logging.info)

    def hasModelPoints(self, landmarksNode) -> bool:
        from OrthoAILib.mrml.hip.scene import MODEL_POINTS_ATTRIBUTE

        return landmarksNode is not None and bool(landmarksNode.GetAttribute(MODEL_POINTS_ATTRIBUTE))

    def resetToModelPoints(self, landmarksNode) -> None:
        """Undo the user's corrections: the landmarks go back to the detector's positions."""
        from OrthoAILib.mrml.hip.scene import reset_to_model_points

        reset_to_model_points(landmarksNode)

    def reportDocument(self) -> dict:
        """Current measures (after any correction) and landmarks of every followed side."""
        from OrthoAILib.mrml.markups import points_from_fiducials

        links = dict(self.links) or ({"manual": self.link} if self.link else {})
        sides = []
        for side, link in links.items():
            entry = {"operated_side": side, "landmarks_ras_mm": {k: [round(float(v), 3) for v in p]
                                                                 for k, p in points_from_fiducials(link.landmarks_node).items()}}
            entry.update(link.measures.to_json_dict() if link.measures else {"error": link.status})
            sides.append(entry)
        return {"source": "Slicer scene", "sides": sides}

    def exportReport(self, folder, volumeNode=None) -> dict:
        """``hip_report.json``, ``hip_report.csv`` and, in the application, ``hip_report.png`` (the Red view)."""
        from pathlib import Path

        from OrthoAILib.io.reports import write_json
        from OrthoAILib.pipelines.hip.report import csv_rows, write_csv

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        document = self.reportDocument()
        files = {"json": str(write_json(folder / "hip_report.json", document)),
                 "csv": str(write_csv(folder / "hip_report.csv", csv_rows(document)))}
        if hasattr(slicer, "app"):
            from OrthoAILib.mrml.render import save_window_png

            slicer.app.processEvents()  # pending layout and node changes reach the view first
            view = slicer.app.layoutManager().sliceWidget("Red").sliceView()
            view.forceRender()
            files["png"] = str(save_window_png(view.renderWindow(), folder / "hip_report.png"))
        return files

    def getParameterNode(self):
        return HipTHAParameterNode(super().getParameterNode())

    def createLandmarks(self, name: str = "Hip landmarks"):
        """A landmark set whose nine named points the user places in order, in one go."""
        from OrthoAILib.pipelines.hip.landmarks import LANDMARK_NAMES
        from OrthoAILib.mrml.markups import unplaced_fiducials

        landmarks = unplaced_fiducials(LANDMARK_NAMES, slicer.mrmlScene.GenerateUniqueName(name))
        # Slicer's vtkSlicerMarkupsWidget::PlacePoint (Modules/Loadable/Markups/VTKWidgets) leaves place mode
        # after a click when the node requires no points and place mode is not persistent, which is a point
        # list's default: one click, one point. It stays in place mode while the required number of points
        # is not reached or any point is still undefined; and with a fixed number of points it leaves place
        # mode once none is undefined, even when the user turned persistent placing on (no tenth point).
        landmarks.SetRequiredNumberOfControlPoints(len(LANDMARK_NAMES))
        landmarks.SetFixedNumberOfControlPoints(True)
        return landmarks

    def measure(self, landmarksNode, cupDiameterMm: Optional[float] = None, volumeNode=None):
        """One-off measures (``OrthoAILib.pipelines.hip.HipMeasures``); raises ``InputError`` naming what is missing."""
        from OrthoAILib.pipelines.hip.measures import compute_hip_measures
        from OrthoAILib.mrml.markups import points_from_fiducials
        from OrthoAILib.mrml.volumes import plane_normal_of

        normal = plane_normal_of(volumeNode) if volumeNode is not None else None
        return compute_hip_measures(points_from_fiducials(landmarksNode), cupDiameterMm, normal)

    def follow(self, landmarksNode, volumeNode=None, tableNode=None, cupDiameterMm=None, onUpdate=None):
        """Keep lines and the measure table in step with ``landmarksNode``. Landmarks that are already
        followed (after Detect) keep their link; others get one, replacing an earlier hand-placed set's."""
        from OrthoAILib.mrml.hip.link import HipMeasurementLink

        if landmarksNode is None:
            raise ValueError(_("Choose or create a landmark set first."))
        for link in self.allLinks():
            if link.landmarks_node is landmarksNode:
                link.on_update = onUpdate or link.on_update
                link.set_cup_diameter(cupDiameterMm)
                return link
        if self.link is not None:
            self.link.detach()
        self.link = HipMeasurementLink(landmarksNode, table_node=tableNode, volume_node=volumeNode,
                                       cup_diameter_mm=cupDiameterMm, on_update=onUpdate)
        return self.link

    def allLinks(self) -> list:
        return [*self.links.values(), *([self.link] if self.link else [])]

    def stopFollowing(self) -> None:
        if self.link is not None:
            self.link.detach()
            self.link = None
        for link in self.links.values():
            link.detach()
        self.links = {}

    def showRadiograph(self, volumeNode) -> None:
        """Show a radiograph alone, in its own plane, in the Red view."""
        from OrthoAILib.mrml.views import slice_orientation_for

        layoutManager = slicer.app.layoutManager()
        layoutManager.setLayout(slicer.vtkMRMLLayoutNode.SlicerLayoutOneUpRedSliceView)
        slicer.util.setSliceViewerLayers(background=volumeNode)
        redSliceWidget = layoutManager.sliceWidget("Red")
        redSliceWidget.mrmlSliceNode().SetOrientation(slice_orientation_for(volumeNode))
        redSliceWidget.sliceLogic().FitSliceToAll()

    def loadDemoRadiograph(self, seed: int = 0):
        """A synthetic AP pelvis radiograph and its nine true keypoints (numpy only, no download)."""
        from OrthoAILib.mrml.markups import fiducials_from_points
        from OrthoAILib.mrml.volumes import volume_from_array
        from OrthoAILib.phantoms.pelvis_xray import make_pelvis_radiograph

        radiograph = make_pelvis_radiograph(seed, operated="right", spacing_mm=0.3)
        volume = volume_from_array(radiograph.image, radiograph.geometry, f"Synthetic AP pelvis {seed}")
        landmarks = fiducials_from_points(radiograph.keypoints_ras, f"Synthetic AP pelvis {seed} true landmarks")
        self.demoCupDiameterMm = radiograph.cup_diameter_mm
        return volume, landmarks


class HipTHATest(ScriptedLoadableModuleTest):
    def setUp(self):
        slicer.mrmlScene.Clear()

    def runTest(self):
        # Each test after setUp(); a skipped test is reported as skipped, not as a failure of the whole run.
        run_test_methods(self, ("test_measures_follow_a_dragged_point", "test_incomplete_set_names_what_is_missing",
                                "test_landmark_set_is_placed_in_one_go", "test_detection_reset_and_report"),
                         report=self.delayDisplay)

    def test_detection_reset_and_report(self):
        import importlib.util
        import tempfile

        if importlib.util.find_spec("torch") is None or importlib.util.find_spec("skimage") is None:
            self.skipTest("torch and scikit-image are needed (PyTorch extension, OrthoAI/Resources/requirements.txt)")
        self.delayDisplay("Keypoint detection on a synthetic film")
        logic = HipTHALogic()
        volume, truth = logic.loadDemoRadiograph(seed=5)
        case = logic.detect(volume)
        self.assertEqual([side.operated_side for side in case.sides], ["right"])
        landmarks = logic.links["right"].landmarks_node
        index = landmarks.GetControlPointIndexByLabel("cup_lateral")
        detected = landmarks.GetNthControlPointPositionWorld(index)
        landmarks.SetNthControlPointPositionWorld(index, detected[0] + 5, detected[1], detected[2])
        logic.resetToModelPoints(landmarks)
        self.assertAlmostEqual(landmarks.GetNthControlPointPositionWorld(index)[0], detected[0], places=3)
        with tempfile.TemporaryDirectory() as folder:
            files = logic.exportReport(folder, volume)
            self.assertIn("abduction_deg", open(files["csv"]).read())
        logic.stopFollowing()
        self.delayDisplay("Test passed")

    def test_measures_follow_a_dragged_point(self):
        self.delayDisplay("Live hip measures")
        logic = HipTHALogic()
        volume, landmarks = logic.loadDemoRadiograph(seed=3)
        link = logic.follow(landmarks, volumeNode=volume, cupDiameterMm=logic.demoCupDiameterMm)
        before = link.measures.abduction_deg
        index = landmarks.GetControlPointIndexByLabel("cup_lateral")
        position = landmarks.GetNthControlPointPositionWorld(index)
        landmarks.SetNthControlPointPositionWorld(index, position[0], position[1], position[2] + 8.0)
        self.assertNotAlmostEqual(before, link.measures.abduction_deg, places=1)
        table = link.table_node.GetTable()
        self.assertEqual(table.GetValueByName(0, "Value").ToDouble(), round(link.measures.abduction_deg, 2))
        self.assertTrue(link.measures.calibrated)
        logic.stopFollowing()
        self.delayDisplay("Test passed")

    def test_landmark_set_is_placed_in_one_go(self):
        logic = HipTHALogic()
        landmarks = logic.createLandmarks()
        self.assertEqual(landmarks.GetNumberOfControlPoints(), 9)
        self.assertEqual(landmarks.GetNumberOfUndefinedControlPoints(), 9)
        self.assertEqual(landmarks.GetRequiredNumberOfControlPoints(), 9)
        self.assertTrue(landmarks.GetFixedNumberOfControlPoints())

    def test_incomplete_set_names_what_is_missing(self):
        logic = HipTHALogic()
        landmarks = logic.createLandmarks()
        link = logic.follow(landmarks)
        self.assertIsNone(link.measures)
        self.assertIn("cup_lateral", link.status)
        logic.stopFollowing()
        self.delayDisplay("Test passed")
