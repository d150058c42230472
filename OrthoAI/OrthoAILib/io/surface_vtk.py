"""Surface meshes with a value per point as legacy VTK polydata files (binary), without VTK.

Slicer, ParaView and 3D Slicer's Models module read them. Points are written in LPS with ``SPACE=LPS``
in the header line, which Slicer's model reader uses to place them (it assumes LPS when told nothing).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .reports import atomic_write_bytes


def polydata_bytes(vertices_ras: np.ndarray, faces: np.ndarray, scalars: dict[str, np.ndarray], title: str) -> bytes:
    vertices = np.asarray(vertices_ras, dtype=float) * np.array([-1.0, -1.0, 1.0])  # RAS -> LPS
    faces = np.asarray(faces, dtype=np.int64)
    header = (f"# vtk DataFile Version 3.0\n{title} SPACE=LPS\nBINARY\nDATASET POLYDATA\n"
              f"POINTS {len(vertices)} float\n").encode("ascii")
    parts = [header, vertices.astype(">f4").tobytes(), b"\n"]
    cells = np.column_stack([np.full(len(faces), 3), faces]).astype(">i4")
    parts += [f"POLYGONS {len(faces)} {cells.size}\n".encode("ascii"), cells.tobytes(), b"\n"]
    if scalars:
        parts.append(f"POINT_DATA {len(vertices)}\n".encode("ascii"))
        for name, values in scalars.items():
            parts += [f"SCALARS {name} float 1\nLOOKUP_TABLE default\n".encode("ascii"),
                      np.asarray(values, dtype=">f4").tobytes(), b"\n"]
    return b"".join(parts)


def write_polydata(path: str | Path, vertices_ras: np.ndarray, faces: np.ndarray,
                   scalars: dict[str, np.ndarray] | None = None, title: str = "OrthoAI surface") -> Path:
    return atomic_write_bytes(path, polydata_bytes(vertices_ras, faces, scalars or {}, title))


def read_polydata(path: str | Path) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """What :func:`write_polydata` wrote: (vertices in RAS, faces, scalars). For tests and re-reading."""
    data = Path(path).read_bytes()
    position = 0

    def line() -> str:
        nonlocal position
        end = data.index(b"\n", position)
        text = data[position:end].decode("ascii")
        position = end + 1
        return text

    def block(count: int, dtype: str) -> np.ndarray:
        nonlocal position
        size = count * np.dtype(dtype).itemsize
        values = np.frombuffer(data[position:position + size], dtype=dtype)
        position += size + 1  # the newline after the block
        return values

    for _ in range(4):
        line()
    points = int(line().split()[1])
    vertices = block(points * 3, ">f4").reshape(-1, 3).astype(float) * np.array([-1.0, -1.0, 1.0])
    faces_count, size = (int(v) for v in line().split()[1:3])
    faces = block(size, ">i4").reshape(faces_count, 4)[:, 1:].astype(np.int64)
    scalars = {}
    if position < len(data):
        line()  # POINT_DATA
        while position < len(data):
            name = line().split()[1]
            line()  # LOOKUP_TABLE
            scalars[name] = block(points, ">f4").astype(float)
    return vertices, faces, scalars
