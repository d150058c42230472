"""Slicer's scripted-module widget pattern, written once for the OrthoAI modules.

The base class loads ``Resources/UI/<Module>.ui``, binds the module's typed
parameter node to it and follows scene close and re-open, as Slicer's module
template does. A module widget only adds its logic, its connections and what
to refresh when parameters change (``onParameterNodeModified``).

Two things differ from the template, on purpose:

* GUI binding keeps its own handle. In Slicer 5.8
  ``parameterNodeWrapper.connectGui`` (wrapper.py) ends with
  ``_connectParametersToGui(self, paramNameToWidget)`` and returns nothing, so
  the template's ``disconnectGui(self._parameterNodeGuiTag)`` disconnects
  nothing. The stale connectors stay wired to the widgets; on the next module
  entry ``connectGui`` re-creates the combo-box connector, which clears and
  refills the combo box, and the stale connector writes the refill's first
  item ("auto") into the parameter node. ``connectParametersToGui`` returns
  its tag in 5.8 and in later releases, so the base class builds the same
  parameter -> widget mapping as ``connectGui`` and keeps the tag itself:
  the same code disconnects in every release.
* The panel owns a busy state (``OrthoAIModuleSupport.busy``): every refresh
  ends by re-disabling the buttons of the work that is running.
"""

from __future__ import annotations

import vtk

import qt
import slicer
from slicer.ScriptedLoadableModule import ScriptedLoadableModuleWidget
from slicer.util import VTKObservationMixin

from OrthoAIModuleSupport.busy import BusyButtons

# The dynamic property a .ui file gives a widget to bind it to a parameter
# (slicer.parameterNodeWrapper.SlicerParameterNamePropertyName).
PARAMETER_PROPERTY = "SlicerParameterName"


def parameterWidgets(uiWidget) -> dict:
    """{parameter name: widget} for the children of ``uiWidget`` bound to a parameter: what
    ``connectGui`` collects, taken from the loaded .ui's top widget."""
    return {widget.property(PARAMETER_PROPERTY): widget for widget in uiWidget.findChildren(qt.QWidget)
            if widget.property(PARAMETER_PROPERTY)}


class ParameterNodeWidget(ScriptedLoadableModuleWidget, VTKObservationMixin):
    def __init__(self, parent=None, logic=None) -> None:
        # All set before ScriptedLoadableModuleWidget.__init__: without a parent it calls setup() at once,
        # and (through super().__init__()) it re-runs VTKObservationMixin.__init__ before that, never after.
        VTKObservationMixin.__init__(self)
        self.logic = logic  # injectable, so the widget can be tested with a logic of choice
        self._parameterNode = None
        self._guiConnection = None  # (wrapper, tag) of the current GUI binding, to disconnect exactly that one
        self._cancel = None  # the running task's CancelToken, while one runs
        self._busy = BusyButtons()
        ScriptedLoadableModuleWidget.__init__(self, parent)

    # -- what a module provides -------------------------------------------
    def createLogic(self):
        raise NotImplementedError

    def setupConnections(self) -> None:
        """Connect buttons and other widgets that are not bound to parameters."""

    def setDefaultParameters(self, parameterNode) -> None:
        """Fill empty parameters: by default, the scene's first scalar volume as the input (not a label
        map: a label map is a scalar volume too, and the input selectors do not list it)."""
        if hasattr(parameterNode, "inputVolume") and not parameterNode.inputVolume:
            volumes = slicer.util.getNodesByClass("vtkMRMLScalarVolumeNode")
            parameterNode.inputVolume = next((v for v in volumes if not v.IsA("vtkMRMLLabelMapVolumeNode")), None)

    def onParameterNodeModified(self, caller=None, event=None) -> None:
        """Button states from parameters (the busy state is applied after, by ``refresh``)."""

    # -- refresh: the module's rules, then the busy state -------------------
    def refresh(self, caller=None, event=None) -> None:
        """Update the panel; the one entry point for every refresh, so busy buttons stay disabled."""
        self.onParameterNodeModified(caller, event)
        self._busy.hold()
        if hasattr(self.ui, "cancelButton"):
            self.ui.cancelButton.enabled = self._busy.active

    # -- long work: progress bar and Cancel (widgets ``progressBar``, ``cancelButton``) ----
    def runWithProgress(self, work, busyButtons, errorMessage: str, cancelledMessage: str):
        """Run ``work(progress, cancel)`` on this thread with a moving progress bar and a working Cancel;
        ``busyButtons`` stay disabled until it ends, whatever refreshes the panel meanwhile.

        Returns work's result, or None when it was cancelled (``cancelledMessage`` is shown). An error
        is shown with ``errorMessage`` and then propagates (``tryWithErrorDisplay`` re-raises it).
        """
        from OrthoAILib.errors import Cancelled
        from OrthoAILib.runtime.progress import CancelToken

        self._busy.start(busyButtons)
        self._cancel = CancelToken()
        self.refresh()
        try:
            with slicer.util.tryWithErrorDisplay(errorMessage, waitCursor=True):
                try:
                    return work(self._progress, self._cancel)
                except Cancelled:
                    self.ui.statusLabel.text = cancelledMessage
            return None
        finally:
            self._cancel = None
            self._busy.finish()
            self.refresh()

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
        self.uiWidget = slicer.util.loadUI(self.resourcePath(f"UI/{self.moduleName}.ui"))
        self.layout.addWidget(self.uiWidget)
        self.ui = slicer.util.childWidgetVariables(self.uiWidget)
        self.uiWidget.setMRMLScene(slicer.mrmlScene)
        self.logic = self.logic or self.createLogic()
        self.setupConnections()
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.StartCloseEvent, self.onSceneStartClose)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.EndCloseEvent, self.onSceneEndClose)
        self.initializeParameterNode()

    def cleanup(self) -> None:
        if self._parameterNode is not None:
            self.setParameterNode(None)  # a reloaded module must not leave connectors on the old widgets
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
        if self._guiConnection is not None:
            wrapper, tag = self._guiConnection
            wrapper.disconnectGui(tag)
            self._guiConnection = None
        if self._parameterNode is not None:
            self.removeObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self.refresh)
        self._parameterNode = parameterNode
        if self._parameterNode is not None:
            tag = self._parameterNode.connectParametersToGui(parameterWidgets(self.uiWidget))
            self._guiConnection = (self._parameterNode, tag)
            self.addObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self.refresh)
        self.refresh()
