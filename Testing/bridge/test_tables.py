import math

import vtk

from OrthoAILib.mrml.tables import records_from_table, table_from_records


def test_records_round_trip_with_numeric_and_text_columns(scene):
    records = [{"Measure": "angle", "Value": 41.5, "Flag": "normal"},
               {"Measure": "offset", "Value": None, "Flag": "incomplete"}]
    node = table_from_records(records, "measures", scene)
    table = node.GetTable()
    assert isinstance(table.GetColumnByName("Value"), vtk.vtkDoubleArray)
    assert isinstance(table.GetColumnByName("Flag"), vtk.vtkStringArray)
    read = records_from_table(node)
    assert read[0] == {"Measure": "angle", "Value": 41.5, "Flag": "normal"}
    assert math.isnan(read[1]["Value"]) and read[1]["Flag"] == "incomplete"


def test_refilling_replaces_columns_and_rows(scene):
    node = table_from_records([{"a": 1, "b": 2}, {"a": 3, "b": 4}], "t", scene)
    table_from_records([{"c": "x"}], "t", scene, node=node)
    assert records_from_table(node) == [{"c": "x"}]
    assert scene.GetNodesByClass("vtkMRMLTableNode").GetNumberOfItems() == 1


def test_a_new_table_shows_its_column_names_as_the_header(scene):
    """A table node starts with its column names as a first data row in Slicer's table views."""
    node = table_from_records([{"Bone": "rib left", "Score": 0.9}], "findings", scene)
    assert node.GetUseColumnNameAsColumnHeader()
    assert node.GetNumberOfRows() == 1 and node.GetCellText(0, 0) == "rib left"
