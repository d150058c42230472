"""KneeCartilage: knee MR cartilage segmentation with biomarkers (pipeline coming).

What exists now: the module, its parameter node, and turning a cartilage
labelmap (1 femoral, 2 tibial, 3 patellar) into a segmentation with named,
coloured segments, which the coming pipeline will use for its output.
"""

import logging
from typing import Optional

import vtk

import slicer
from slicer.i18n import tr as _
from slicer.i18n import translate
from slicer.parameterNodeWrapper import parameterNodeWrapper
from slicer.ScriptedLoadableModule import (
    ScriptedLoadableModule,
    ScriptedLoadableModuleLogic,
    ScriptedLoadableModuleTest,
    ScriptedLoadableModuleWidget,
)
from slicer.util import VTKObservationMixin
from slicer import vtkMRMLLabelMapVolumeNode, vtkMRMLScalarVolumeNode

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
        self.parent.dependencies = []
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


class KneeCartilageWidget(ScriptedLoadableModuleWidget, VTKObservationMixin):
    def __init__(self, parent=None, logic=None) -> None:
        ScriptedLoadableModuleWidget.__init__(self, parent)
        VTKObservationMixin.__init__(self)
        self.logic = logic
        self._parameterNode = None
        self._parameterNodeGuiTag = None

    def setup(self) -> None:
        ScriptedLoadableModuleWidget.setup(self)
        uiWidget = slicer.util.loadUI(self.resourcePath("UI/KneeCartilage.ui"))
        self.layout.addWidget(uiWidget)
        self.ui = slicer.util.childWidgetVariables(uiWidget)
        uiWidget.setMRMLScene(slicer.mrmlScene)
        self.logic = self.logic or KneeCartilageLogic()
        self.ui.importButton.connect("clicked(bool)", self.onImportLabelmap)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.StartCloseEvent, self.onSceneStartClose)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.EndCloseEvent, self.onSceneEndClose)
        self.initializeParameterNode()

    def cleanup(self) -> None:
        self.removeObservers()

    def enter(self) -> None:
        self.initializeParameterNode()

    def exit(self) -> None:
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self._parameterNodeGuiTag = None

    def onSceneStartClose(self, caller, event) -> None:
        self.setParameterNode(None)

    def onSceneEndClose(self, caller, event) -> None:
        if self.parent.isEntered:
            self.initializeParameterNode()

    def initializeParameterNode(self) -> None:
        self.setParameterNode(self.logic.getParameterNode())

    def setParameterNode(self, inputParameterNode: Optional[KneeCartilageParameterNode]) -> None:
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
        self._parameterNode = inputParameterNode
        if self._parameterNode:
            self._parameterNodeGuiTag = self._parameterNode.connectGui(self.ui)

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
        self.setUp()
        self.test_labelmap_becomes_named_cartilage_segments()

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
