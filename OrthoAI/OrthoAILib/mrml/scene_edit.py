"""All-or-nothing scene edits: a failure mid-way removes every node the edit added.

    with SceneTransaction(scene):
        node = scene.AddNewNodeByClass(...)
        ...  # an exception here removes ``node`` and its display/storage nodes

Nodes that existed before are not touched by the rollback, so callers must
not modify input nodes in place (the bridge never does).
"""

from __future__ import annotations


def _node_ids(scene) -> set[str]:
    return {scene.GetNthNode(index).GetID() for index in range(scene.GetNumberOfNodes())}


class SceneTransaction:
    def __init__(self, scene) -> None:
        self.scene = scene
        self._before: set[str] = set()

    def __enter__(self) -> "SceneTransaction":
        self._before = _node_ids(self.scene)
        return self

    def __exit__(self, exc_type, exc, traceback) -> bool:
        if exc_type is not None:
            for node_id in _node_ids(self.scene) - self._before:
                node = self.scene.GetNodeByID(node_id)
                if node is not None:
                    self.scene.RemoveNode(node)
        return False
