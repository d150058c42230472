import numpy as np
import slicer

from OrthoAILib.geometry import ImageGeometry
from OrthoAILib.mrml.hierarchy import create_patient_study, move_under, place_with_input, study_item_of
from OrthoAILib.mrml.volumes import volume_from_array


def _volume(scene, name="ct"):
    return volume_from_array(np.zeros((2, 3, 4), np.int16), ImageGeometry(), name, scene)


def test_results_go_under_the_inputs_study(scene):
    _, study = create_patient_study("Patient", "Study", scene)
    volume = _volume(scene)
    series_folder = slicer.vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(scene).CreateFolderItem(study, "series")
    move_under(volume, series_folder)  # input one level below the study
    table = scene.AddNewNodeByClass("vtkMRMLTableNode", "result")
    item = place_with_input(table, volume)
    hierarchy = slicer.vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(scene)
    assert hierarchy.GetItemParent(item) == study
    assert study_item_of(table) == study


def test_without_a_study_results_go_beside_the_input(scene):
    volume = _volume(scene)
    table = scene.AddNewNodeByClass("vtkMRMLTableNode", "result")
    hierarchy = slicer.vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(scene)
    item = place_with_input(table, volume)
    assert hierarchy.GetItemParent(item) == hierarchy.GetItemParent(hierarchy.GetItemByDataNode(volume))
    assert study_item_of(volume) == 0
