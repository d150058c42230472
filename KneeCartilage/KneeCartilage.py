"""KneeCartilage: two-stage cartilage segmentation on knee MR with thickness maps and biomarkers.

Thin module file: widgets and parameter node. The pipeline lives in ``OrthoAILib.pipelines.knee``
(core), the nodes in ``OrthoAILib.mrml.knee`` (bridge), segment/measure a node and the report in
``OrthoAILib.apps.knee_node`` (apps).
"""

import os
import sys

import slicer
from slicer.i18n import tr as _
from slicer.i18n import translate
from slicer.parameterNodeWrapper import parameterNodeWrapper
from slicer.ScriptedLoadableModule import ScriptedLoadableModule, ScriptedLoadableModuleLogic, ScriptedLoadableModuleTest
from slicer import vtkMRMLLabelMapVolumeNode, vtkMRMLScalarVolumeNode

try:
    from OrthoAIModuleSupport.widget import ParameterNodeWidget
except ModuleNotFoundError:  # run from the source tree: the shared code sits beside, in OrthoAI/
    sys.path.append(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "OrthoAI"))
    from OrthoAIModuleSupport.widget import ParameterNodeWidget
from OrthoAIModuleSupport.selftest import run_test_methods

DEFAULT_LABEL_SPEC = "femoral=1,tibial_medial=2,tibial_lateral=3,patellar=4"


class KneeCartilage(ScriptedLoadableModule):
    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = _("Knee cartilage")
        self.parent.categories = [translate("qSlicerAbstractCoreModule", "OrthoAI")]
        self.parent.dependencies = ["OrthoAI", "Segmentations", "Tables", "Models"]  # OrthoAI loads the shared library
        self.parent.contributors = ["OrthoAI developers"]
        self.parent.helpText = _(
            "Knee MR cartilage: a coarse residual U-Net finds the cartilage region, a 3-D ResNet with an ASPP decoder "
            "segments the femoral, medial and lateral tibial and patellar cartilage; each plate gets a thickness map "
            "(along the surface normal) and biomarkers (volume, area, thickness mean/median/p95/max, femoral subregions). "
            "An existing labelmap can be measured without the network; a reference gives Dice, an earlier report the "
            "change. A volume that is not a knee MR is refused. Research use only; not for clinical use.")
        self.parent.acknowledgementText = _("OrthoAI, an open-source 3D Slicer extension. Trained on images synthesised "
                                            "from generated knees and one real label map (pymskt, MIT).")


@parameterNodeWrapper
class KneeCartilageParameterNode:
    inputVolume: vtkMRMLScalarVolumeNode
    cartilageLabelmap: vtkMRMLLabelMapVolumeNode
    referenceLabelmap: vtkMRMLLabelMapVolumeNode
    labelSpec: str = DEFAULT_LABEL_SPEC


class KneeCartilageWidget(ParameterNodeWidget):
    def createLogic(self):
        return KneeCartilageLogic()

    def setupConnections(self) -> None:
        self.ui.applyButton.connect("clicked(bool)", self.onApply)
        self.ui.measureButton.connect("clicked(bool)", self.onMeasure)
        self.ui.cancelButton.connect("clicked(bool)", self.onCancel)
        self.ui.exportButton.connect("clicked(bool)", self.onExport)
        self.ui.cancelButton.enabled = False
        self._last = None  # (document, biomarkers, name) of the last result, for the report

    def onParameterNodeModified(self, caller=None, event=None) -> None:
        p = self._parameterNode
        self.ui.applyButton.enabled = p is not None and p.inputVolume is not None
        self.ui.measureButton.enabled = p is not None and p.cartilageLabelmap is not None
        self.ui.exportButton.enabled = getattr(self, "_last", None) is not None

    def _baseline(self):
        path = self.ui.baselinePathLineEdit.currentPath.strip()
        return self.logic.readBaseline(path) if path else None

    def _run(self, work, errorMessage):
        outcome = self.runWithProgress(work, [self.ui.applyButton, self.ui.measureButton], errorMessage,
                                       _("Cancelled; the scene is unchanged."))
        if outcome is None:
            return False
        document, nodes, biomarkers = outcome
        self.ui.statusLabel.text = self.logic.summary(document)
        if nodes is not None:
            self.ui.biomarkerTableView.setMRMLTableNode(nodes.table)
            self._last = (document, biomarkers, document.get("input") or "knee")
            with slicer.util.tryWithErrorDisplay(_("The results are in the scene but could not be shown."), waitCursor=True):
                self.logic.show(nodes)
        self.refresh()
        return True

    def onApply(self) -> bool:
        p = self._parameterNode
        return self._run(lambda progress, cancel: self.logic.segment(
            p.inputVolume, p.referenceLabelmap, self._baseline(), progress=progress, cancel=cancel),
            _("Cartilage segmentation failed; the scene is unchanged."))

    def onMeasure(self) -> bool:
        p = self._parameterNode
        return self._run(lambda progress, cancel: self.logic.measure(
            p.cartilageLabelmap, p.labelSpec, p.referenceLabelmap, self._baseline(), progress=progress, cancel=cancel),
            _("Measuring the labelmap failed; the scene is unchanged."))

    def onExport(self) -> None:
        with slicer.util.tryWithErrorDisplay(_("The report could not be written."), waitCursor=True):
            document, biomarkers, name = self._last
            files = self.logic.exportReport(document, biomarkers, self.ui.exportDirectoryButton.directory, name)
            self.ui.statusLabel.text = _("Report written: {files}").format(files=", ".join(str(f) for f in files))


class KneeCartilageLogic(ScriptedLoadableModuleLogic):
    """Console use::

        logic = slicer.util.getModuleLogic("KneeCartilage")
        document, nodes, biomarkers = logic.segment(getNode("knee MR"))      # plates, thickness models, table
        print(document["plates"]["femoral"]["thickness_mm"])
        document, nodes, biomarkers = logic.measure(getNode("my labels"), "femoral=1,tibial=2,3,patellar=4")
        logic.exportReport(document, biomarkers, "/tmp/report", "knee")
    """

    def __init__(self) -> None:
        ScriptedLoadableModuleLogic.__init__(self)
        self._pipeline = None

    def getParameterNode(self):
        return KneeCartilageParameterNode(super().getParameterNode())

    def pipeline(self):
        """The two-stage cartilage pipeline, loaded once per session (checksums verified)."""
        if self._pipeline is None:
            from OrthoAIModuleSupport.pipelines import load_pipeline

            self._pipeline = load_pipeline("KneeCartilage", "knee")
        return self._pipeline

    def segment(self, volumeNode, referenceNode=None, baseline=None, progress=None, cancel=None):
        """``(document, KneeNodes or None when refused, biomarkers)``; the scene changes only on success."""
        from OrthoAILib.apps.knee_node import segment_volume_node

        if volumeNode is None:
            raise ValueError(_("Choose the knee MR volume first."))
        return segment_volume_node(volumeNode, self.pipeline(), referenceNode, baseline, progress=progress, cancel=cancel)

    def measure(self, labelmapNode, labelSpec=DEFAULT_LABEL_SPEC, referenceNode=None, baseline=None, progress=None,
                cancel=None):
        """An existing labelmap, without the network: ``(document, KneeNodes or None, biomarkers)``."""
        from OrthoAILib.apps.knee_node import measure_labelmap_node
        from OrthoAILib.pipelines.knee.plates import parse_label_spec

        if labelmapNode is None:
            raise ValueError(_("Choose the cartilage labelmap first."))
        return measure_labelmap_node(labelmapNode, parse_label_spec(labelSpec or DEFAULT_LABEL_SPEC), referenceNode,
                                     baseline, progress=progress, cancel=cancel)

    @staticmethod
    def readBaseline(path):
        from OrthoAILib.apps.knee import read_baseline

        return read_baseline(path)

    @staticmethod
    def exportReport(document, biomarkers, folder, name):
        from OrthoAILib.apps.knee_node import export_report

        return export_report(document, biomarkers, folder, name)

    @staticmethod
    def summary(document) -> str:
        if document.get("status") != "ok":
            return _("Refused ({status}): {message}").format(status=document.get("status"),
                                                             message=document.get("message", ""))
        parts = [f"{name}: {plate['volume_mm3'] / 1000:.2f} ml, {plate['thickness_mm']['mean'] or 0:.2f} mm"
                 for name, plate in document["plates"].items()]
        return "; ".join(parts)

    @staticmethod
    def show(nodes) -> None:
        """The thickness models in the 3-D view, the segmentation over the slices."""
        layoutManager = slicer.app.layoutManager()
        if layoutManager is not None and layoutManager.threeDWidget(0) is not None:
            layoutManager.threeDWidget(0).threeDView().resetFocalPoint()


class KneeCartilageTest(ScriptedLoadableModuleTest):
    def setUp(self):
        slicer.mrmlScene.Clear()

    def runTest(self):
        # Each test after setUp(); a skipped test is reported as skipped, not as a failure of the whole run.
        run_test_methods(self, ("test_labelmap_is_measured_without_the_network",
                                "test_generated_knee_is_segmented_and_measured"), report=self.delayDisplay)

    @staticmethod
    def _knee(grid=((80, 128, 128), (1.0, 1.0, 1.2))):
        from OrthoAILib.phantoms.knee_anatomy import make_knee

        return make_knee(200_200, shape_kji=grid[0], spacing_ijk=grid[1])  # a seed never trained on

    @staticmethod
    def _volume(array, geometry, name, labelmap=False):
        from OrthoAILib.mrml.volumes import volume_from_array

        return volume_from_array(array, geometry, name, slicer.mrmlScene,
                                 node_class="vtkMRMLLabelMapVolumeNode" if labelmap else "vtkMRMLScalarVolumeNode")

    def test_labelmap_is_measured_without_the_network(self):
        knee = self._knee()
        node = self._volume(knee.labelmap, knee.geometry, "knee labels", labelmap=True)
        document, nodes, biomarkers = KneeCartilageLogic().measure(node)
        self.assertEqual(document["status"], "ok")
        self.assertEqual(nodes.segmentation.GetSegmentation().GetNumberOfSegments(), 4)
        self.assertGreater(document["plates"]["femoral"]["thickness_mm"]["mean"], 1.0)
        self.delayDisplay("Labelmap measured")

    def test_generated_knee_is_segmented_and_measured(self):
        import numpy as np

        from OrthoAILib.phantoms.knee_mr import synthesise_mr

        knee = self._knee(((96, 160, 160), (0.7, 0.7, 0.9)))
        image = synthesise_mr(knee.labelmap, np.random.default_rng(0)) * 1000
        node = self._volume(image.astype(np.float32), knee.geometry, "knee MR")
        document, nodes, biomarkers = KneeCartilageLogic().segment(node)
        self.assertEqual(document["status"], "ok", document.get("message"))
        self.assertTrue(nodes.models)
        self.delayDisplay("Knee segmented and measured")
