"""Subject-hierarchy placement: results go under the input's study.

Outside the Slicer application, nodes get no subject-hierarchy item by
themselves, so items are created here when missing.
"""

from __future__ import annotations

import slicer

from .app import current_scene


def _hierarchy(scene=None):
    return slicer.vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(current_scene(scene))


def item_of(node, scene=None) -> int:
    """The node's item, created directly under the scene when it has none."""
    hierarchy = _hierarchy(scene or node.GetScene())
    item = hierarchy.GetItemByDataNode(node)
    if not item:
        item = hierarchy.CreateItem(hierarchy.GetSceneItemID(), node)
    return item


def create_patient_study(patient: str, study: str, scene=None) -> tuple[int, int]:
    hierarchy = _hierarchy(scene)
    patient_item = hierarchy.CreateSubjectItem(hierarchy.GetSceneItemID(), patient)
    study_item = hierarchy.CreateStudyItem(patient_item, study)
    return patient_item, study_item


def move_under(node, parent_item: int) -> int:
    hierarchy = _hierarchy(node.GetScene())
    item = item_of(node)
    hierarchy.SetItemParent(item, parent_item)
    return item


def study_item_of(node) -> int:
    """The study that holds ``node`` (0 when it is not in a study)."""
    hierarchy = _hierarchy(node.GetScene())
    item = item_of(node)
    while item and item != hierarchy.GetSceneItemID():
        if hierarchy.GetItemLevel(item) == slicer.vtkMRMLSubjectHierarchyConstants.GetDICOMLevelStudy():
            return item
        item = hierarchy.GetItemParent(item)
    return 0


def place_with_input(result_node, input_node) -> int:
    """Put ``result_node`` under the input's study, or beside the input when it has none."""
    hierarchy = _hierarchy(input_node.GetScene())
    parent = study_item_of(input_node) or hierarchy.GetItemParent(item_of(input_node))
    return move_under(result_node, parent)
