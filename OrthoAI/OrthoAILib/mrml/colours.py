"""The colour scale OrthoAI uses for continuous values (depth, thickness): Viridis where the scene has
it (Slicer's Colors module loads it), a built-in rainbow otherwise (a bare MRML scene)."""

from __future__ import annotations

from typing import Optional

SCALE_TABLES = ("vtkMRMLColorTableNodeFileViridis.txt", "vtkMRMLColorTableNodeRainbow")


def scale_colour_id(scene) -> Optional[str]:
    return next((table for table in SCALE_TABLES if scene.GetNodeByID(table) is not None), None)
