"""Slicer's scripted-module widget pattern, written once for the OrthoAI modules.

The base class loads ``Resources/UI/<Module>.ui``, binds the module's typed
parameter node to it (``connectGui``) and follows scene close and re-open,
as Slicer's module template does. A module widget only adds its logic, its
connections and what to refresh when parameters change.
"""

from __future__ import annotations

import vtk

import slicer
from slicer.ScriptedLoadableModule import ScriptedLoadableModuleWidget
from slicer.util import VTKObservationMixin


class ParameterNodeWidget(ScriptedLoadableModuleWidget, VTKObservationMixin):
    def __init__(self, parent=None, logic=None) -> None:
        ScriptedLoadableModuleWidget.__init__(self, parent)
        VTKObservationMixin.__init__(self)
        self.logic = logic  # injectable, so the widget can be tested with a logic of choice
        self._parameterNode = None
        self._parameterNodeGuiTag = None
        self._cancel = None  # the running task's CancelToken, while one runs

    # -- what a module provides -------------------------------------------
    def createLogic(self):
        raise NotImplementedError

    def setupConnections(self) -> None:
        """Connect buttons and other widgets that are not bound to parameters."""

    def setDefaultParameters(self, parameterNode) -> None:
        """Fill empty parameters: by default, the scene's first scalar volume as the input."""
        if hasattr(parameterNode, "inputVolume") and not parameterNode.inputVolume:
            parameterNode.inputVolume = slicer.mrmlScene.GetFirstNodeByClass("vtkMRMLScalarVolumeNode")

    def onParameterNodeModified(self, caller=None, event=None) -> None:
        """Refresh what depends on parameters (button states...)."""

    # -- long work: progress bar and Cancel (widgets ``progressBar``, ``cancelButton``) ----
    def runWithProgress(self, work, busyButtons, errorMessage: str, cancelledMessage: str):
        """Run ``work(progress, cancel)`` on this thread with a moving progress bar and a working
        Cancel; the given buttons are disabled meanwhile. Returns work's result, or None when it
        failed (the error is shown) or was cancelled (``cancelledMessage`` is shown)."""
        from OrthoAILib.errors import Cancelled
        from OrthoAILib.runtime.progress import CancelToken

        self._cancel = CancelToken()
        states = [button.enabled for button in busyButtons]
        for button in busyButtons:
            button.enabled = False
        self.ui.cancelButton.enabled = True
        try:
            with slicer.util.tryWithErrorDisplay(errorMessage, waitCursor=True):
                try:
                    return work(self._progress, self._cancel)
                except Cancelled:
                    self.ui.statusLabel.text = cancelledMessage
            return None
        finally:
            self._cancel = None
            self.ui.cancelButton.enabled = False
            for button, state in zip(busyButtons, states):
                button.enabled = state
            self.onParameterNodeModified()

    def _progress(self, fraction: float, message: str) -> None:
        self.ui.progressBar.value = int(round(100 * fraction))
        self.ui.progressBar.setFormat(f"{message} %p%")
        slicer.app.processEvents()  # keeps Cancel clickable while the work runs on this thread

    def onCancel(self) -> None:
        if self._cancel is not None:
            self._cancel.cancel()

    # -- the template's life cycle -----------------------------------------
    def setup(self) -> None:
        ScriptedLoadableModuleWidget.setup(self)
        uiWidget = slicer.util.loadUI(self.resourcePath(f"UI/{self.moduleName}.ui"))
        self.layout.addWidget(uiWidget)
        self.ui = slicer.util.childWidgetVariables(uiWidget)
        uiWidget.setMRMLScene(slicer.mrmlScene)
        self.logic = self.logic or self.createLogic()
        self.setupConnections()
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.StartCloseEvent, self.onSceneStartClose)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.EndCloseEvent, self.onSceneEndClose)
        self.initializeParameterNode()

    def cleanup(self) -> None:
        self.removeObservers()

    def enter(self) -> None:
        self.initializeParameterNode()

    def exit(self) -> None:
        self.setParameterNode(None)

    def onSceneStartClose(self, caller, event) -> None:
        self.setParameterNode(None)

    def onSceneEndClose(self, caller, event) -> None:
        if self.parent.isEntered:
            self.initializeParameterNode()

    def initializeParameterNode(self) -> None:
        parameterNode = self.logic.getParameterNode()
        self.setDefaultParameters(parameterNode)
        self.setParameterNode(parameterNode)

    def setParameterNode(self, parameterNode) -> None:
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self._parameterNodeGuiTag = None
            self.removeObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self.onParameterNodeModified)
        self._parameterNode = parameterNode
        if self._parameterNode:
            self._parameterNodeGuiTag = self._parameterNode.connectGui(self.ui)
            self.addObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self.onParameterNodeModified)
            self.onParameterNodeModified()
