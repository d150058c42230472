"""Endoscopy: depth-guided polyp segmentation on colonoscopy frames and videos, fused onto the frame.

Thin module file: widgets and parameter node. The pipeline lives in ``OrthoAILib.pipelines.endoscopy``
(core), the nodes in ``OrthoAILib.mrml.endoscopy`` (bridge), Apply on a node or a video file in
``OrthoAILib.apps.endoscopy_node`` (apps).
"""

from typing import Annotated

import slicer
from slicer.i18n import tr as _
from slicer.i18n import translate
from slicer.parameterNodeWrapper import WithinRange, parameterNodeWrapper
from slicer.ScriptedLoadableModule import ScriptedLoadableModule, ScriptedLoadableModuleLogic, ScriptedLoadableModuleTest
from slicer import vtkMRMLScalarVolumeNode

from OrthoAIModuleSupport.selftest import run_test_methods
from OrthoAIModuleSupport.widget import ParameterNodeWidget

FUSED_OPACITY = 1.0


class Endoscopy(ScriptedLoadableModule):
    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = _("Endoscopy lesions")
        self.parent.categories = [translate("qSlicerAbstractCoreModule", "OrthoAI")]
        self.parent.dependencies = ["OrthoAI", "Segmentations", "Tables", "Sequences"]
        self.parent.contributors = ["OrthoAI developers"]
        self.parent.helpText = _(
            "Polyps on colonoscopy frames: a depth estimate of the frame guides an attention-weighted segmentation, and "
            "the lesions are fused onto the frame. A video (a file, or a multi-slice RGB volume) gives sequences "
            "browsable frame by frame. A frame that is not a colour endoscopy frame is refused. Research use only; "
            "not for clinical use.")
        self.parent.acknowledgementText = _("OrthoAI, an open-source 3D Slicer extension. Kvasir-SEG (Jha et al., 2020) "
                                            "and CVC-ClinicDB (Bernal et al., 2015) trained the lesion segmentation.")


@parameterNodeWrapper
class EndoscopyParameterNode:
    inputVolume: vtkMRMLScalarVolumeNode  # RGB frames are vector volumes (a scalar volume subclass)
    everyNthFrame: Annotated[int, WithinRange(1, 1000)] = 1
    maxFrames: Annotated[int, WithinRange(1, 5000)] = 300


class EndoscopyWidget(ParameterNodeWidget):
    def createLogic(self):
        return EndoscopyLogic()

    def setupConnections(self) -> None:
        self.ui.applyButton.connect("clicked(bool)", self.onApply)
        self.ui.cancelButton.connect("clicked(bool)", self.onCancel)
        self.ui.cancelButton.enabled = False
        self.ui.videoPathLineEdit.connect("currentPathChanged(QString)", lambda _path: self.refresh())  # refresh keeps Apply off while a run is busy

    def onParameterNodeModified(self, caller=None, event=None) -> None:
        p = self._parameterNode
        hasVideo = bool(self.ui.videoPathLineEdit.currentPath.strip())
        self.ui.applyButton.enabled = p is not None and (p.inputVolume is not None or hasVideo)

    def onApply(self) -> bool:
        p = self._parameterNode
        videoPath = self.ui.videoPathLineEdit.currentPath.strip()
        if videoPath:
            work = lambda progress, cancel: self.logic.analyseVideoFile(
                videoPath, every=p.everyNthFrame, maxFrames=p.maxFrames, progress=progress, cancel=cancel)
        else:
            work = lambda progress, cancel: self.logic.analyse(p.inputVolume, progress=progress, cancel=cancel)
        outcome = self.runWithProgress(work, [self.ui.applyButton], _("Endoscopy analysis failed; the scene is unchanged."),
                                       _("Analysis cancelled; the scene is unchanged."))
        if outcome is None:
            return False
        results, nodes = outcome
        self.ui.lesionsTableView.setMRMLTableNode(nodes.table)
        self.ui.statusLabel.text = self.logic.summary(results)
        with slicer.util.tryWithErrorDisplay(_("The results are in the scene but could not be shown."), waitCursor=True):
            self.logic.show(nodes)
        return True


class EndoscopyLogic(ScriptedLoadableModuleLogic):
    """Console use::

        logic = slicer.util.getModuleLogic("Endoscopy")
        result, nodes = logic.analyse(getNode("frame"))          # lesion segmentation, depth, fused picture, table
        print(result.to_json())
        results, video = logic.analyseVideoFile("/data/colonoscopy.mp4", every=5, maxFrames=200)   # sequences
    """

    def __init__(self) -> None:
        ScriptedLoadableModuleLogic.__init__(self)
        self._pipeline = None

    def getParameterNode(self):
        return EndoscopyParameterNode(super().getParameterNode())

    def pipeline(self):
        """The endoscopy pipeline (depth and lesion networks), loaded once per session (checksums verified)."""
        if self._pipeline is None:
            from OrthoAIModuleSupport.pipelines import load_pipeline

            self._pipeline = load_pipeline("Endoscopy", "endoscopy")
        return self._pipeline

    def analyse(self, volumeNode, progress=None, cancel=None):
        """A frame: ``(EndoscopyResult, EndoscopyScene)``; a multi-slice volume: ``(results, EndoscopyVideoScene)``.
        The scene changes only after every frame was analysed."""
        from OrthoAILib.apps.endoscopy_node import analyse_volume

        if volumeNode is None:
            raise ValueError(_("Choose the endoscopy frame first."))
        return analyse_volume(volumeNode, self.pipeline(), progress=progress, cancel=cancel)

    def analyseVideoFile(self, path, every=1, maxFrames=300, progress=None, cancel=None):
        from OrthoAILib.apps.endoscopy_node import analyse_video_file

        return analyse_video_file(path, self.pipeline(), every=every, max_frames=maxFrames, progress=progress,
                                  cancel=cancel)

    @staticmethod
    def summary(results) -> str:
        results = results if isinstance(results, list) else [results]
        refused = [r for r in results if r.status != "ok"]
        lesions = sum(len(r.lesions) for r in results)
        if len(results) == 1:
            return results[0].message if not refused else _("Refused: {m}").format(m=refused[0].message)
        return _("{n} frames: {l} lesion(s) in {w} frame(s), {r} refused").format(
            n=len(results), l=lesions, w=sum(bool(r.lesions) for r in results), r=len(refused))

    @staticmethod
    def show(nodes) -> None:
        """The fused picture in the slice views (for a video, the browser's current frame)."""
        fused = getattr(nodes, "fused", None)
        if fused is not None and fused.IsA("vtkMRMLSequenceNode"):
            fused = nodes.browser.GetProxyNode(fused)
        if fused is not None:
            slicer.util.setSliceViewerLayers(background=fused, fit=True, rotateToVolumePlane=True)


class EndoscopyTest(ScriptedLoadableModuleTest):
    def setUp(self):
        slicer.mrmlScene.Clear()

    def runTest(self):
        run_test_methods(self, ("test_frame_gives_segmentation_depth_and_fused_picture", "test_grey_frame_is_refused",
                                "test_multi_frame_volume_gives_sequences"), report=self.delayDisplay)

    @staticmethod
    def _frame(grey=False):
        """A synthetic colonoscopy-like frame: reddish mucosa with a brighter round bump."""
        import numpy as np

        from OrthoAILib.geometry import radiograph_geometry

        rows, columns = np.mgrid[0:256, 0:256]
        bump = np.exp(-((rows - 120) ** 2 + (columns - 140) ** 2) / (2 * 30.0 ** 2))
        rgb = np.stack([170 + 60 * bump, 90 + 30 * bump, 70 + 20 * bump], -1).astype(np.uint8)
        if grey:
            rgb = np.repeat(rgb.mean(axis=2, keepdims=True), 3, axis=2).astype(np.uint8)
        node = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLVectorVolumeNode", "frame")
        slicer.util.updateVolumeFromArray(node, rgb[np.newaxis])
        node.SetSpacing(*radiograph_geometry(rgb.shape[:2], (1.0, 1.0)).spacing)
        return node

    def test_frame_gives_segmentation_depth_and_fused_picture(self):
        logic = EndoscopyLogic()
        result, nodes = logic.analyse(self._frame())
        self.assertEqual(result.status, "ok")
        self.assertIsNotNone(nodes.segmentation)
        self.assertEqual(nodes.depth.GetImageData().GetDimensions()[:2], (256, 256))
        self.assertTrue(nodes.fused.IsA("vtkMRMLVectorVolumeNode"))
        logic.show(nodes)

    def test_grey_frame_is_refused(self):
        result, nodes = EndoscopyLogic().analyse(self._frame(grey=True))
        self.assertEqual(result.status, "not_endoscopy")
        self.assertIsNone(nodes.segmentation)

    def test_multi_frame_volume_gives_sequences(self):
        import numpy as np

        frame = slicer.util.arrayFromVolume(self._frame())
        video = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLVectorVolumeNode", "video")
        slicer.util.updateVolumeFromArray(video, np.concatenate([frame] * 3))
        results, nodes = EndoscopyLogic().analyse(video)
        self.assertEqual(len(results), 3)
        self.assertEqual(nodes.fused.GetNumberOfDataNodes(), 3)
