"""OrthoAI: CT fracture detection on labelled bones, and the shared model runtime (registry, cache,
device) that every OrthoAI module uses.

Thin module file: widgets and parameter node only. The pipeline lives in
``OrthoAILib.pipelines.fracture`` (core), the bones, boxes and findings table in
``OrthoAILib.mrml.fracture`` (bridge), detection on a node and the report in
``OrthoAILib.apps.fracture_node`` (apps).
"""

import logging
import os
from typing import Annotated

import qt

import slicer
from slicer.i18n import tr as _
from slicer.i18n import translate
from slicer.parameterNodeWrapper import WithinRange, parameterNodeWrapper
from slicer.ScriptedLoadableModule import ScriptedLoadableModule, ScriptedLoadableModuleLogic, ScriptedLoadableModuleTest
from slicer import vtkMRMLScalarVolumeNode

from OrthoAIModuleSupport.selftest import run_test_methods
from OrthoAIModuleSupport.widget import ParameterNodeWidget


class OrthoAI(ScriptedLoadableModule):
    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = _("OrthoAI fractures")
        self.parent.categories = [translate("qSlicerAbstractCoreModule", "OrthoAI")]
        self.parent.dependencies = ["Segmentations", "Markups", "Tables", "Terminologies"]
        self.parent.contributors = ["OrthoAI developers"]
        self.parent.helpText = _(
            "Fractures on CT: a residual U-Net labels the bones (one segment per bone, with its terminology), a 3-D "
            "FCOS detector finds fracture boxes, boxes off bone are dropped, and each kept box gets a class (fresh, "
            "old, post-operative, suspected, other) with its probability. Each finding is a box you can move, resize, "
            "delete or reclassify; the findings table and the exported report follow. A volume that is not a CT, or "
            "shows no bone, is refused. The Models section holds the OrthoAI model runtime: the model registry, the "
            "model cache, device selection and a runtime check on a generated phantom. "
            "Research use only; not for clinical use."
        )
        self.parent.acknowledgementText = _("OrthoAI, an open-source 3D Slicer extension.")
        # Bone segments name their bone in this extension's terminology context, which Slicer must know to show it
        # (also in scenes opened before the module is used).
        slicer.app.connect("startupCompleted()", loadBoneTerminology)


def loadBoneTerminology():
    try:
        from OrthoAILib.mrml.fracture.terminology import load_bone_terminology

        load_bone_terminology()
    except Exception as error:  # the module works without it; Slicer then shows no bone region for the segments
        logging.warning(f"OrthoAI: the bones' terminology context was not loaded: {error}")


@parameterNodeWrapper
class OrthoAIParameterNode:
    inputVolume: vtkMRMLScalarVolumeNode
    # FractureOptions().score_threshold (Testing/e2e/test_fracture_module.py keeps them equal; the pipeline is
    # not imported here, so the module loads before its dependencies are installed)
    scoreThreshold: Annotated[float, WithinRange(0.05, 0.95)] = 0.30
    forceCpu: bool = False


class OrthoAIWidget(ParameterNodeWidget):
    def createLogic(self):
        return OrthoAILogic()

    def setupConnections(self) -> None:
        from OrthoAILib.pipelines.fracture.classes import CLASSES

        self.ui.applyButton.connect("clicked(bool)", self.onApply)
        self.ui.cancelButton.connect("clicked(bool)", self.onCancel)
        self.ui.findingsTableView.connect("clicked(QModelIndex)", self.onFindingClicked)
        # the arrow keys move the current row too: the views follow (qMRMLTableView sets its model once,
        # in its constructor, so this selection model serves every table shown in it)
        self.ui.findingsTableView.selectionModel().connect("currentRowChanged(QModelIndex,QModelIndex)",
                                                           self.onCurrentFindingChanged)
        self.ui.deleteFindingButton.connect("clicked(bool)", self.onDeleteFinding)
        self.ui.setClassButton.connect("clicked(bool)", self.onSetClass)
        self.ui.exportReportButton.connect("clicked(bool)", self.onExportReport)
        self.ui.checkRuntimeButton.connect("clicked(bool)", self.onCheckRuntime)
        self.ui.importModelButton.connect("clicked(bool)", self.onImportModel)
        self.ui.openCacheButton.connect("clicked(bool)", self.onOpenCache)
        self.ui.clearCacheButton.connect("clicked(bool)", self.onClearCache)
        for cls in CLASSES:
            self.ui.classComboBox.addItem(cls)
        self.ui.cancelButton.enabled = False
        self.refreshModelList()

    def cleanup(self) -> None:
        ParameterNodeWidget.cleanup(self)
        self.logic.stopFollowing()

    def onSceneStartClose(self, caller, event) -> None:
        self.logic.stopFollowing()
        self.ui.findingsTableView.setMRMLTableNode(None)
        ParameterNodeWidget.onSceneStartClose(self, caller, event)

    def onParameterNodeModified(self, caller=None, event=None) -> None:
        p = self._parameterNode
        self.ui.applyButton.enabled = p is not None and p.inputVolume is not None
        hasFindings = self.logic.link is not None
        for button in (self.ui.deleteFindingButton, self.ui.setClassButton, self.ui.exportReportButton):
            button.enabled = hasFindings

    def _busyButtons(self) -> list:
        ui = self.ui
        return [ui.applyButton, ui.deleteFindingButton, ui.setClassButton, ui.exportReportButton, ui.checkRuntimeButton,
                ui.importModelButton, ui.clearCacheButton]

    # -- fractures --------------------------------------------------------------
    def onApply(self) -> bool:
        p = self._parameterNode
        outcome = self.runWithProgress(
            lambda progress, cancel: self.logic.detect(p.inputVolume, p.scoreThreshold, progress=progress, cancel=cancel),
            self._busyButtons(), _("Fracture detection failed; the scene is unchanged."),
            _("Detection cancelled; the scene is unchanged."))
        if outcome is None:
            return False
        document, nodes, _result = outcome
        self.ui.statusLabel.text = self.logic.summary(document)
        if nodes is not None:
            self.ui.findingsTableView.setMRMLTableNode(nodes.table)
            with slicer.util.tryWithErrorDisplay(_("The results are in the scene but could not be shown."), waitCursor=True):
                self.logic.show(nodes, p.inputVolume)
        self.refresh()
        return nodes is not None

    def _selectedFindingId(self):
        """The finding of the table's current row (its ID column), or None."""
        index = self.ui.findingsTableView.selectionModel().currentIndex()
        return self.logic.findingIdOf(index.sibling(index.row(), 0).data()) if index.isValid() else None

    def onFindingClicked(self, index) -> None:
        findingId = self.logic.findingIdOf(index.sibling(index.row(), 0).data())
        if findingId is not None:
            with slicer.util.tryWithErrorDisplay(_("Could not show the finding."), waitCursor=True):
                self.logic.centreViewsOn(findingId)

    def onCurrentFindingChanged(self, current, previous) -> None:
        if current.isValid():
            self.onFindingClicked(current)

    def onDeleteFinding(self) -> None:
        findingId = self._selectedFindingId()
        if findingId is None:
            self.ui.statusLabel.text = _("Select a finding in the table first.")
            return
        with slicer.util.tryWithErrorDisplay(_("Could not delete the finding."), waitCursor=True):
            self.logic.deleteFinding(findingId)
            self.ui.statusLabel.text = _("Finding {id} deleted.").format(id=findingId)

    def onSetClass(self) -> None:
        findingId = self._selectedFindingId()
        if findingId is None:
            self.ui.statusLabel.text = _("Select a finding in the table first.")
            return
        with slicer.util.tryWithErrorDisplay(_("Could not change the finding's class."), waitCursor=True):
            finding = self.logic.setFindingClass(findingId, self.ui.classComboBox.currentText)
            self.ui.statusLabel.text = finding.title

    def onExportReport(self) -> None:
        folder = qt.QFileDialog.getExistingDirectory(self.parent, _("Folder for the fracture report"))
        if not folder:
            return
        with slicer.util.tryWithErrorDisplay(_("The report could not be written."), waitCursor=True):
            files = self.logic.exportReport(folder)
            self.ui.statusLabel.text = _("Report written: {files}").format(files=", ".join(f.name for f in files))

    # -- models -----------------------------------------------------------------
    def refreshModelList(self) -> None:
        with slicer.util.tryWithErrorDisplay(_("Could not read the model registry."), waitCursor=True):
            self.ui.modelsText.plainText = "\n".join(self.logic.describeModels())

    def onCheckRuntime(self) -> None:
        summary = self.runWithProgress(
            lambda progress, cancel: self.logic.checkRuntime(forceCpu=self._parameterNode.forceCpu,
                                                             progress=progress, cancel=cancel),
            self._busyButtons(), _("The model runtime check failed."), _("Runtime check cancelled; nothing was changed."))
        if summary:
            self.ui.statusLabel.text = _("Runtime works: Dice {dice} on {device} in {seconds} s.").format(
                dice=summary["dice_bone"], device=summary["device"], seconds=summary["seconds"])

    def onImportModel(self) -> None:
        modelId = self.ui.modelIdLineEdit.text.strip()
        path = qt.QFileDialog.getOpenFileName(self.parent, _("Model file"), "", "TorchScript (*.pt)")
        if not path:
            return
        with slicer.util.tryWithErrorDisplay(_("Could not import the model file."), waitCursor=True):
            self.ui.statusLabel.text = _("Imported to {path}").format(path=self.logic.importModel(modelId, path))
            self.refreshModelList()

    def onOpenCache(self) -> None:
        with slicer.util.tryWithErrorDisplay(_("Could not open the model cache folder."), waitCursor=True):
            path = self.logic.cacheDirectory()
            os.makedirs(path, exist_ok=True)
            qt.QDesktopServices.openUrl(qt.QUrl.fromLocalFile(str(path)))

    def onClearCache(self) -> None:
        if slicer.util.confirmOkCancelDisplay(_("Delete every downloaded or imported model file?")):
            with slicer.util.tryWithErrorDisplay(_("Could not clear the model cache."), waitCursor=True):
                freed = self.logic.clearCache()
                self.ui.statusLabel.text = _("Freed {mb:.1f} MB.").format(mb=freed / 1e6)
                self.refreshModelList()


class OrthoAILogic(ScriptedLoadableModuleLogic):
    """Console use::

        logic = slicer.util.getModuleLogic("OrthoAI")
        document, nodes, result = logic.detect(getNode("CT"))   # bones, a box per finding, findings table
        print(result.to_json()["fractures"])
        logic.setFindingClass(1, "old")                         # box renamed, table and report follow
        logic.exportReport("/tmp/report")                       # JSON, CSV, a picture per finding
        print(logic.describeModels())
        print(logic.checkRuntime())            # tiny model on a phantom: Dice, device, seconds
    """

    def __init__(self) -> None:
        ScriptedLoadableModuleLogic.__init__(self)
        self._pipeline = None
        self.nodes = None  # FractureNodes of the last detection (their link follows the boxes)
        self.volumeNode = None  # the CT they were found on

    def getParameterNode(self):
        return OrthoAIParameterNode(super().getParameterNode())

    # -- fractures --------------------------------------------------------------
    @property
    def link(self):
        """The findings that follow the boxes of the last detection, or None."""
        return self.nodes.link if self.nodes is not None else None

    def pipeline(self):
        """The fracture pipeline (bone labels, detector, classifier), loaded once per session (checksums verified)."""
        if self._pipeline is None:
            from OrthoAIModuleSupport.pipelines import load_pipeline

            self._pipeline = load_pipeline("OrthoAI", "fracture")
        return self._pipeline

    def detect(self, volumeNode, scoreThreshold=None, progress=None, cancel=None):
        """``(document, FractureNodes or None when refused, FractureResult)``; the scene changes only on success,
        and the earlier results stop following their boxes only then."""
        from OrthoAILib.apps.fracture_node import detect_in_volume_node
        from OrthoAILib.pipelines.fracture.pipeline import FractureOptions

        if volumeNode is None:
            raise ValueError(_("Choose the CT volume first."))
        options = FractureOptions() if scoreThreshold is None else FractureOptions(score_threshold=float(scoreThreshold))
        document, nodes, result = detect_in_volume_node(volumeNode, self.pipeline(), options, progress=progress,
                                                        cancel=cancel)
        if nodes is not None:
            self.stopFollowing()
            self.nodes, self.volumeNode = nodes, volumeNode
        return document, nodes, result

    def _link(self):
        if self.link is None:
            raise ValueError(_("Detect fractures first."))
        return self.link

    @staticmethod
    def findingIdOf(cellValue):
        """The finding id shown in a table cell ("2", 2.0), or None."""
        try:
            return int(float(cellValue))
        except (TypeError, ValueError):
            return None

    def centreViewsOn(self, findingId) -> None:
        self._link().centre_views_on(findingId)

    def setFindingClass(self, findingId, cls):
        return self._link().set_class(findingId, cls)

    def deleteFinding(self, findingId) -> None:
        self._link().remove_finding(findingId)

    def exportReport(self, folder, name=None):
        """``<name>.fractures.json``, ``.fractures.csv`` and ``.finding<id>.png`` (the findings as edited) in ``folder``."""
        from OrthoAILib.apps.fracture_node import export_report

        link = self._link()
        return export_report(link, self.volumeNode, folder, name or self.volumeNode.GetName())

    def stopFollowing(self) -> None:
        if self.nodes is not None:
            self.nodes.detach()
        self.nodes = self.volumeNode = None

    @staticmethod
    def summary(document) -> str:
        if document.get("status") != "ok":
            return _("Refused ({status}): {message}").format(status=document.get("status"),
                                                             message=document.get("message", ""))
        return _("{message}; {bones} bones labelled.").format(message=document.get("message", ""),
                                                             bones=len(document.get("bones", {})))

    @staticmethod
    def show(nodes, volumeNode) -> None:
        """The CT under the bone segments in the slice views, centred on the first finding."""
        slicer.util.setSliceViewerLayers(background=volumeNode, fit=True)
        if nodes.rois:
            nodes.link.centre_views_on(min(nodes.rois))

    # -- models -----------------------------------------------------------------

    def _store(self):
        from OrthoAILib.runtime.store import ModelStore

        return ModelStore()

    def describeModels(self) -> list:
        store = self._store()
        lines = []
        for entry in store.registry.entries():
            status = store.status(entry.id)
            lines.append(f"{entry.id} {entry.version} ({entry.task}): {status.state}")
        return lines

    def cacheDirectory(self):
        from OrthoAILib.runtime.store import default_cache_dir

        return default_cache_dir()

    def importModel(self, modelId: str, path: str):
        return self._store().import_file(modelId, path)

    def clearCache(self) -> int:
        return self._store().clear_cache()

    def checkRuntime(self, forceCpu: bool = False, progress=None, cancel=None, showResult: bool = True) -> dict:
        """Run the shipped test model on a generated CT phantom; optionally show image and bone segment."""
        from OrthoAIModuleSupport.dependencies import ensure_dependencies

        ensure_dependencies("OrthoAI", need_torch=True)
        from OrthoAILib.pipelines.bone_phantom.pipeline import run_runtime_check

        check = run_runtime_check(force_cpu=forceCpu, progress=progress, cancel=cancel)
        if showResult:
            self.showRuntimeCheck(check)
        return check.summary()

    def showRuntimeCheck(self, check):
        """The phantom and the pipeline's bone segmentation, under one study (apps layer writes the nodes)."""
        from OrthoAILib.apps.bone_phantom import segmentation_for
        from OrthoAILib.mrml.volumes import volume_from_array

        volume = volume_from_array(check.image.array, check.image.geometry, "OrthoAI runtime check phantom")
        segmentation = segmentation_for(check.result, "OrthoAI runtime check bone", reference_volume=volume)
        return volume, segmentation


class OrthoAITest(ScriptedLoadableModuleTest):
    def setUp(self):
        slicer.mrmlScene.Clear()

    def runTest(self):
        # Each test after setUp(); a skipped test is reported as skipped, not as a failure of the whole run.
        run_test_methods(self, ("test_registry_lists_shipped_model", "test_runtime_check_segments_phantom",
                                "test_fractures_on_a_generated_ct"), report=self.delayDisplay)

    def test_registry_lists_shipped_model(self):
        lines = OrthoAILogic().describeModels()
        self.assertTrue(any(line.startswith("phantom-bone-seg-tiny") and "ready" in line for line in lines), lines)

    def test_runtime_check_segments_phantom(self):
        import importlib.util

        for package, source in (("torch", "the PyTorch extension"), ("monai", "OrthoAI/Resources/requirements.txt")):
            if importlib.util.find_spec(package) is None:
                self.skipTest(f"{package} is not installed in this Slicer (install it from {source})")
        self.delayDisplay("Model runtime on a phantom")
        fractions = []
        summary = OrthoAILogic().checkRuntime(progress=lambda f, m: fractions.append(f))
        self.assertGreater(summary["dice_bone"], 0.9)
        self.assertAlmostEqual(fractions[-1], 1.0)
        segmentation = slicer.mrmlScene.GetFirstNodeByClass("vtkMRMLSegmentationNode")
        self.assertEqual(segmentation.GetSegmentation().GetNthSegment(0).GetName(), "bone")
        self.delayDisplay("Test passed")

    def test_fractures_on_a_generated_ct(self):
        """The whole pipeline on a small generated CT (3 mm voxels, a seed never trained on), through the logic."""
        import importlib.util
        import tempfile

        import numpy as np

        if importlib.util.find_spec("torch") is None:
            self.skipTest("torch is not installed in this Slicer (install the PyTorch extension)")
        from OrthoAILib.mrml.volumes import volume_from_array
        from OrthoAILib.phantoms.ct_case import make_ct_case

        self.delayDisplay("Fractures on a generated CT")
        case = make_ct_case(200_701, spacing=(3.0, 3.0, 3.0), size_mm=(420, 380, 240), lesions=(2, 3))
        volume = volume_from_array(case.hu, case.geometry, "Generated CT", slicer.mrmlScene)
        before = np.array(slicer.util.arrayFromVolume(volume), copy=True)
        logic = OrthoAILogic()
        fractions = []
        document, nodes, result = logic.detect(volume, progress=lambda f, m: fractions.append(f))
        self.assertEqual(document["status"], "ok", document.get("message"))
        self.assertGreater(nodes.segmentation.GetSegmentation().GetNumberOfSegments(), 3)
        self.assertEqual(nodes.table.GetNumberOfRows(), len(result.findings))
        self.assertEqual(len(nodes.rois), len(result.findings))
        self.assertAlmostEqual(fractions[-1], 1.0)
        np.testing.assert_array_equal(slicer.util.arrayFromVolume(volume), before)  # the input is never changed
        if result.findings:
            first = result.findings[0].id
            self.assertIn("post-operative", logic.setFindingClass(first, "post-operative").title)
            logic.centreViewsOn(first)
        with tempfile.TemporaryDirectory() as folder:
            files = logic.exportReport(folder, "generated")
            self.assertEqual(len(files), 2 + len(result.findings))
        logic.stopFollowing()
        self.delayDisplay("Test passed")
