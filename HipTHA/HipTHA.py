"""HipTHA: hip-arthroplasty measures from keypoints on an AP pelvis radiograph.

Thin module file: widgets and parameter node only. The measures live in
``OrthoAILib.hip`` (core) and the live link to the scene in
``OrthoAILib.mrml.hip_link`` (bridge).
"""

from typing import Annotated, Optional

import os
import sys

import slicer
from slicer.i18n import tr as _
from slicer.i18n import translate
from slicer.parameterNodeWrapper import WithinRange, parameterNodeWrapper
from slicer.ScriptedLoadableModule import ScriptedLoadableModule, ScriptedLoadableModuleLogic, ScriptedLoadableModuleTest
from slicer import vtkMRMLMarkupsFiducialNode, vtkMRMLScalarVolumeNode, vtkMRMLTableNode

try:
    from OrthoAIModuleSupport.widget import ParameterNodeWidget
except ModuleNotFoundError:  # run from the source tree: the shared code sits beside, in OrthoAI/
    sys.path.append(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "OrthoAI"))
    from OrthoAIModuleSupport.widget import ParameterNodeWidget


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
    landmarks: vtkMRMLMarkupsFiducialNode
    measuresTable: vtkMRMLTableNode
    cupDiameterMm: Annotated[float, WithinRange(0.0, 80.0)] = 0.0  # 0: not given, lengths uncalibrated


class HipTHAWidget(ParameterNodeWidget):
    def createLogic(self):
        return HipTHALogic()

    def setupConnections(self) -> None:
        self.ui.createLandmarksButton.connect("clicked(bool)", self.onCreateLandmarks)
        self.ui.loadDemoButton.connect("clicked(bool)", self.onLoadDemo)
        self.ui.applyButton.connect("clicked(bool)", self.onApply)
        self.ui.cupDiameterSpinBox.connect("valueChanged(double)", self.onCupDiameterChanged)

    def cleanup(self) -> None:
        ParameterNodeWidget.cleanup(self)
        self.logic.stopFollowing()

    def onSceneStartClose(self, caller, event) -> None:
        self.logic.stopFollowing()
        ParameterNodeWidget.onSceneStartClose(self, caller, event)

    def setDefaultParameters(self, parameterNode) -> None:
        if not parameterNode.inputVolume:
            parameterNode.inputVolume = slicer.mrmlScene.GetFirstNodeByClass("vtkMRMLScalarVolumeNode")

    def onParameterNodeModified(self, caller=None, event=None) -> None:
        landmarks = self._parameterNode.landmarks if self._parameterNode else None
        self.ui.applyButton.enabled = landmarks is not None
        self.ui.landmarksWidget.setCurrentNode(landmarks)

    def onCreateLandmarks(self) -> None:
        with slicer.util.tryWithErrorDisplay(_("Could not create the landmark set."), waitCursor=True):
            self._parameterNode.landmarks = self.logic.createLandmarks()
            self.ui.landmarksWidget.setCurrentNode(self._parameterNode.landmarks)
            self.ui.landmarksWidget.enterPlaceModeOnNodeChange = True
            self.onApply()

    def onLoadDemo(self) -> None:
        with slicer.util.tryWithErrorDisplay(_("Could not create the demo radiograph."), waitCursor=True):
            volume, landmarks = self.logic.loadDemoRadiograph()
            self._parameterNode.inputVolume = volume
            self._parameterNode.landmarks = landmarks
            self._parameterNode.cupDiameterMm = round(self.logic.demoCupDiameterMm, 1)
            self.logic.showRadiograph(volume)
            self.onApply()

    def onApply(self) -> None:
        with slicer.util.tryWithErrorDisplay(_("Could not compute the hip measures."), waitCursor=True):
            p = self._parameterNode
            link = self.logic.follow(p.landmarks, volumeNode=p.inputVolume, tableNode=p.measuresTable,
                                     cupDiameterMm=p.cupDiameterMm or None, onUpdate=self._showStatus)
            p.measuresTable = link.table_node
            self.ui.measuresTableView.setMRMLTableNode(link.table_node)
            self._showStatus(link)

    def onCupDiameterChanged(self, value: float) -> None:
        if self.logic.link is not None:
            self.logic.link.set_cup_diameter(value or None)

    def _showStatus(self, link) -> None:
        self.ui.statusLabel.text = link.status


class HipTHALogic(ScriptedLoadableModuleLogic):
    """Console use::

        logic = slicer.util.getModuleLogic("HipTHA")
        measures = logic.measure(getNode("Hip landmarks"), cupDiameterMm=52)
        print(measures.to_json_dict())
        link = logic.follow(getNode("Hip landmarks"))   # live lines and table
    """

    def __init__(self) -> None:
        ScriptedLoadableModuleLogic.__init__(self)
        self.link = None
        self.demoCupDiameterMm = 0.0

    def getParameterNode(self):
        return HipTHAParameterNode(super().getParameterNode())

    def createLandmarks(self, name: str = "Hip landmarks"):
        """A landmark set whose nine named points the user places in order."""
        from OrthoAILib.hip.landmarks import LANDMARK_NAMES
        from OrthoAILib.mrml.markups import unplaced_fiducials

        return unplaced_fiducials(LANDMARK_NAMES, slicer.mrmlScene.GenerateUniqueName(name))

    def measure(self, landmarksNode, cupDiameterMm: Optional[float] = None, volumeNode=None):
        """One-off measures (``OrthoAILib.hip.HipMeasures``); raises ``InputError`` naming what is missing."""
        from OrthoAILib.hip.measures import compute_hip_measures
        from OrthoAILib.mrml.markups import points_from_fiducials
        from OrthoAILib.mrml.volumes import plane_normal_of

        normal = plane_normal_of(volumeNode) if volumeNode is not None else None
        return compute_hip_measures(points_from_fiducials(landmarksNode), cupDiameterMm, normal)

    def follow(self, landmarksNode, volumeNode=None, tableNode=None, cupDiameterMm=None, onUpdate=None):
        """Keep lines and the measure table in step with ``landmarksNode`` (replaces any earlier link)."""
        from OrthoAILib.mrml.hierarchy import place_with_input
        from OrthoAILib.mrml.hip_link import HipMeasurementLink

        if landmarksNode is None:
            raise ValueError(_("Choose or create a landmark set first."))
        self.stopFollowing()
        self.link = HipMeasurementLink(landmarksNode, table_node=tableNode, volume_node=volumeNode,
                                       cup_diameter_mm=cupDiameterMm, on_update=onUpdate)
        if volumeNode is not None:
            for node in [self.link.table_node, *self.link.line_nodes.values()]:
                place_with_input(node, volumeNode)
        return self.link

    def stopFollowing(self) -> None:
        if self.link is not None:
            self.link.detach()
            self.link = None

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
        landmarks = fiducials_from_points(radiograph.keypoints_ras, f"Synthetic AP pelvis {seed} landmarks")
        self.demoCupDiameterMm = radiograph.cup_diameter_mm
        return volume, landmarks


class HipTHATest(ScriptedLoadableModuleTest):
    def setUp(self):
        slicer.mrmlScene.Clear()

    def runTest(self):
        self.setUp()
        self.test_measures_follow_a_dragged_point()
        self.setUp()
        self.test_incomplete_set_names_what_is_missing()

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

    def test_incomplete_set_names_what_is_missing(self):
        logic = HipTHALogic()
        landmarks = logic.createLandmarks()
        link = logic.follow(landmarks)
        self.assertIsNone(link.measures)
        self.assertIn("cup_lateral", link.status)
        logic.stopFollowing()
        self.delayDisplay("Test passed")
