"""KneeCartilage: knee MR cartilage segmentation with biomarkers (pipeline coming).

What exists now: the module, its parameter node, and turning a cartilage
labelmap (1 femoral, 2 tibial, 3 patellar) into a segmentation with named,
coloured segments, which the coming pipeline will use for its output.
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

CARTILAGE_SEGMENTS = (
    (1, "femoral cartilage", (0.36, 0.69, 0.91)),
    (2, "tibial cartilage", (0.93, 0.55, 0.26)),
    (3, "patellar cartilage", (0.55, 0.82, 0.44)),
)


class KneeCartilage(ScriptedLoadableModule):
    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = _("Knee cartilage")
        self.parent.categories = [translate("qSlicerAbstractCoreModule", "OrthoAI")]
        self.parent.dependencies = ["OrthoAI", "Segmentations"]  # OrthoAI loads the shared library first
        self.parent.contributors = ["OrthoAI developers"]
        self.parent.helpText = _(
            "Knee MR cartilage segmentation (femoral, tibial, patellar) with volume and thickness biomarkers: "
            "the pipeline is coming. Today the module imports a cartilage labelmap as a named segmentation. "
            "Research use only; not for clinical use."
        )
        self.parent.acknowledgementText = _("OrthoAI, an open-source 3D Slicer extension.")


@parameterNodeWrapper
class KneeCartilageParameterNode:
    inputVolume: vtkMRMLScalarVolumeNode
    cartilageLabelmap: vtkMRMLLabelMapVolumeNode


class KneeCartilageWidget(ParameterNodeWidget):
    def createLogic(self):
        return KneeCartilageLogic()

    def setupConnections(self) -> None:
        self.ui.importButton.connect("clicked(bool)", self.onImportLabelmap)

    def onParameterNodeModified(self, caller=None, event=None) -> None:
        self.ui.importButton.enabled = bool(self._parameterNode and self._parameterNode.cartilageLabelmap)

    def onImportLabelmap(self) -> None:
        with slicer.util.tryWithErrorDisplay(_("Could not import the cartilage labelmap."), waitCursor=True):
            segmentation = self.logic.segmentationFromLabelmapNode(self._parameterNode.cartilageLabelmap,
                                                                   self._parameterNode.inputVolume)
            self.ui.statusLabel.text = _("Created {name}.").format(name=segmentation.GetName())


class KneeCartilageLogic(ScriptedLoadableModuleLogic):
    def getParameterNode(self):
        return KneeCartilageParameterNode(super().getParameterNode())

    def segmentationFromLabelmapNode(self, labelmapNode, referenceVolume=None):
        """A segmentation with femoral/tibial/patellar cartilage segments from a labelmap node (1/2/3)."""
        from OrthoAILib.mrml.hierarchy import place_with_input
        from OrthoAILib.mrml.segmentations import SegmentSpec, segmentation_from_labelmap
        from OrthoAILib.mrml.volumes import array_from_volume

        if labelmapNode is None:
            raise ValueError(_("Choose a cartilage labelmap (values 1 femoral, 2 tibial, 3 patellar)."))
        labelmap, geometry = array_from_volume(labelmapNode)
        segmentation = segmentation_from_labelmap(
            labelmap.astype("int32"), geometry, [SegmentSpec(v, n, c) for v, n, c in CARTILAGE_SEGMENTS],
            f"{labelmapNode.GetName()} cartilage", reference_volume=referenceVolume)
        place_with_input(segmentation, referenceVolume or labelmapNode)
        return segmentation


class KneeCartilageTest(ScriptedLoadableModuleTest):
    def setUp(self):
        slicer.mrmlScene.Clear()

    def runTest(self):
        # Each test after setUp(); a skipped test is reported as skipped, not as a failure of the whole run.
        run_test_methods(self, ("test_labelmap_becomes_named_cartilage_segments",), report=self.delayDisplay)

    def test_labelmap_becomes_named_cartilage_segments(self):
        import numpy as np

        labelmap = np.zeros((8, 16, 16), dtype=np.uint8)
        labelmap[2:4, 2:8, 2:8] = 1
        labelmap[5:7, 2:8, 2:8] = 2
        node = slicer.util.addVolumeFromArray(labelmap, nodeClassName="vtkMRMLLabelMapVolumeNode")
        segmentation = KneeCartilageLogic().segmentationFromLabelmapNode(node)
        names = [segmentation.GetSegmentation().GetNthSegment(i).GetName() for i in range(3)]
        self.assertEqual(names, [name for _, name, _ in CARTILAGE_SEGMENTS])
        femoral = slicer.util.arrayFromSegmentBinaryLabelmap(segmentation, "femoral cartilage", node)
        self.assertEqual(int(femoral.sum()), 2 * 6 * 6)
        self.delayDisplay("Test passed")
