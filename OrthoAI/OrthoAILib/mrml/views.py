"""What a saved scene shows when Slicer opens it: layout, slice background, table view.

Slicer merges singleton view nodes from a loaded scene into its own, so
setting them here makes a bundle open on the image and the measure table.
"""

from __future__ import annotations

import numpy as np
import slicer

from .app import current_scene
from .volumes import plane_normal_of

# Dominant RAS axis of an image's normal -> Slicer's slice orientation preset.
_ORIENTATION_BY_NORMAL_AXIS = ("Sagittal", "Coronal", "Axial")


def slice_orientation_for(volume_node) -> str:
    """The standard orientation closest to the plane of a single-slice image
    (Coronal for an AP radiograph), or Axial for a volume."""
    if volume_node.GetImageData() is not None and volume_node.GetImageData().GetDimensions()[2] > 1:
        return "Axial"
    return _ORIENTATION_BY_NORMAL_AXIS[int(np.argmax(np.abs(plane_normal_of(volume_node))))]


def _singleton(scene, class_name: str, tag: str):
    node = scene.GetSingletonNode(tag, class_name)
    if node is None:
        node = scene.CreateNodeByClass(class_name)
        node.SetSingletonTag(tag)
        node = scene.AddNode(node)
    return node


def show_image_and_table(volume_node, table_node=None, scene=None) -> None:
    """Lay the scene out as Slicer should open it: the image in the Red view
    (in its own plane), and the table, if given, in the table view."""
    scene = current_scene(scene)
    layout_logic = slicer.vtkMRMLLayoutLogic()  # creates the layout node and the views an arrangement needs
    layout_logic.SetMRMLScene(scene)
    layout = scene.GetSingletonNode("vtkMRMLLayoutNode", "vtkMRMLLayoutNode")
    layout.SetViewArrangement(slicer.vtkMRMLLayoutNode.SlicerLayoutFourUpTableView if table_node
                              else slicer.vtkMRMLLayoutNode.SlicerLayoutOneUpRedSliceView)
    selection = _singleton(scene, "vtkMRMLSelectionNode", "Singleton")
    selection.SetActiveVolumeID(volume_node.GetID())
    scene.GetSingletonNode("Red", "vtkMRMLSliceNode").SetOrientation(slice_orientation_for(volume_node))
    # Tagged by its layout name, as Slicer's slice logic tags it: another tag made the logic add a second
    # composite node for Red, which the scene merged into this one with a warning on every picture.
    composite = _singleton(scene, "vtkMRMLSliceCompositeNode", "Red")
    composite.SetLayoutName("Red")
    composite.SetBackgroundVolumeID(volume_node.GetID())
    if table_node is not None:
        selection.SetActiveTableID(table_node.GetID())
        scene.GetSingletonNode("TableView1", "vtkMRMLTableViewNode").SetTableNodeID(table_node.GetID())
    layout_logic.SetMRMLScene(None)
