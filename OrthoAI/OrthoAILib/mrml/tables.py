"""Table nodes from lists of records (dicts), and back."""

from __future__ import annotations

import math
from numbers import Number
from typing import Mapping, Sequence

import slicer
import vtk

from .app import current_scene
from .scene_edit import SceneTransaction


def _is_number(value) -> bool:
    return isinstance(value, Number) and not isinstance(value, bool)


def table_from_records(records: Sequence[Mapping], name: str, scene=None, node=None, columns: Sequence[str] | None = None):
    """A table node (new, or ``node`` refilled) with one row per record.

    Columns come from ``columns`` or the first record's keys. A column whose
    values are all numbers (or None) is numeric; any other column is text.
    """
    columns = list(columns) if columns is not None else (list(records[0].keys()) if records else [])
    scene = current_scene(scene)
    with SceneTransaction(scene):
        if node is None:
            node = scene.AddNewNodeByClass("vtkMRMLTableNode", name)
            # column names as the header (a new table node shows them as a first, bold row)
            node.SetUseColumnNameAsColumnHeader(True)
        with slicer.util.NodeModify(node):
            table = node.GetTable()
            while table.GetNumberOfColumns():
                table.RemoveColumn(0)
            for column in columns:
                values = [record.get(column) for record in records]
                numeric = all(v is None or _is_number(v) for v in values) and any(v is not None for v in values)
                array = vtk.vtkDoubleArray() if numeric else vtk.vtkStringArray()
                array.SetName(column)
                for value in values:
                    if numeric:
                        array.InsertNextValue(math.nan if value is None else float(value))
                    else:
                        array.InsertNextValue("" if value is None else str(value))
                table.AddColumn(array)
            table.Modified()
    return node


def records_from_table(node) -> list[dict]:
    table = node.GetTable()
    records = []
    for row in range(table.GetNumberOfRows()):
        record = {}
        for column in range(table.GetNumberOfColumns()):
            array = table.GetColumn(column)
            value = array.GetValue(row)
            record[array.GetName()] = value if isinstance(array, vtk.vtkStringArray) else float(value)
        records.append(record)
    return records
