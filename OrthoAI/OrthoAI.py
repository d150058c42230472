"""OrthoAI: CT fracture detection with bone labels (pipeline coming), and the
shared model runtime (registry, cache, device) that every OrthoAI module uses.

Thin module file: widgets and parameter node only. Logic lives in
``OrthoAILib`` (core and MRML bridge).
"""

import os

import qt

import slicer
from slicer.i18n import tr as _
from slicer.i18n import translate
from slicer.parameterNodeWrapper import parameterNodeWrapper
from slicer.ScriptedLoadableModule import ScriptedLoadableModule, ScriptedLoadableModuleLogic, ScriptedLoadableModuleTest
from slicer import vtkMRMLScalarVolumeNode

from OrthoAIModuleSupport.selftest import run_test_methods
from OrthoAIModuleSupport.widget import ParameterNodeWidget


class OrthoAI(ScriptedLoadableModule):
    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = _("OrthoAI fractures")
        self.parent.categories = [translate("qSlicerAbstractCoreModule", "OrthoAI")]
        self.parent.dependencies = []
        self.parent.contributors = ["OrthoAI developers"]
        self.parent.helpText = _(
            "CT fracture detection with bone labels (coming), and the OrthoAI model runtime: the model registry, "
            "the model cache, device selection and a runtime check on a generated phantom. "
            "Research use only; not for clinical use."
        )
        self.parent.acknowledgementText = _("OrthoAI, an open-source 3D Slicer extension.")


@parameterNodeWrapper
class OrthoAIParameterNode:
    inputVolume: vtkMRMLScalarVolumeNode
    forceCpu: bool = False


class OrthoAIWidget(ParameterNodeWidget):
    def createLogic(self):
        return OrthoAILogic()

    def setupConnections(self) -> None:
        self.ui.checkRuntimeButton.connect("clicked(bool)", self.onCheckRuntime)
        self.ui.cancelButton.connect("clicked(bool)", self.onCancel)
        self.ui.importModelButton.connect("clicked(bool)", self.onImportModel)
        self.ui.openCacheButton.connect("clicked(bool)", self.onOpenCache)
        self.ui.clearCacheButton.connect("clicked(bool)", self.onClearCache)
        self.ui.cancelButton.enabled = False
        self.refreshModelList()

    def refreshModelList(self) -> None:
        with slicer.util.tryWithErrorDisplay(_("Could not read the model registry."), waitCursor=True):
            self.ui.modelsText.plainText = "\n".join(self.logic.describeModels())

    def onCheckRuntime(self) -> None:
        summary = self.runWithProgress(
            lambda progress, cancel: self.logic.checkRuntime(forceCpu=self._parameterNode.forceCpu,
                                                             progress=progress, cancel=cancel),
            [self.ui.checkRuntimeButton, self.ui.importModelButton, self.ui.clearCacheButton],
            _("The model runtime check failed."), _("Runtime check cancelled; nothing was changed."))
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
        print(logic.describeModels())
        print(logic.checkRuntime())            # tiny model on a phantom: Dice, device, seconds
    """

    def getParameterNode(self):
        return OrthoAIParameterNode(super().getParameterNode())

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
        run_test_methods(self, ("test_registry_lists_shipped_model", "test_runtime_check_segments_phantom"),
                         report=self.delayDisplay)

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
