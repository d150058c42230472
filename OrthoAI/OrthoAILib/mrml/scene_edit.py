"""All-or-nothing scene edits: a failure mid-way removes every node the edit added.

    with SceneTransaction(scene):
        node = scene.AddNewNodeByClass(...)
        ...  # an exception here removes ``node`` and its display/storage nodes

Added nodes are recorded through the scene's NodeAddedEvent, so entering a
transaction costs nothing on hot paths (live updates run inside one on every
drag). Nodes that existed before are not touched by the rollback, so callers
must not modify input nodes in place (the bridge never does).
"""

from __future__ import annotations

import vtk


class SceneTransaction:
    def __init__(self, scene) -> None:
        self.scene = scene
        self._added: list = []
        self._tag = None

    def _on_node_added(self, caller, event, node) -> None:
        self._added.append(node)

    _on_node_added.CallDataType = vtk.VTK_OBJECT

    def __enter__(self) -> "SceneTransaction":
        self._added = []
        self._tag = self.scene.AddObserver(self.scene.NodeAddedEvent, self._on_node_added)
        return self

    def __exit__(self, exc_type, exc, traceback) -> bool:
        self.scene.RemoveObserver(self._tag)
        if exc_type is not None:
            for node in reversed(self._added):
                if self.scene.IsNodePresent(node):
                    self.scene.RemoveNode(node)
        self._added = []
        return False
