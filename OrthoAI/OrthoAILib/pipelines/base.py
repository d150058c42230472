"""The pipeline contract every imaging pipeline follows.

* In: an :class:`~OrthoAILib.image.Image` (KJI array, geometry, origin) and the
  pipeline's options (a frozen dataclass); ``progress(fraction, message)`` and a
  :class:`~OrthoAILib.runtime.progress.CancelToken` for long work.
* Out: a frozen result dataclass that carries the geometry its coordinates refer
  to, a ``status`` (``ok`` or what the pipeline refused, e.g. ``not_ct``), its
  ``warnings``, ``to_json()`` and ``csv_rows()``.
* Models come from the runtime (registry, checksum, device) and are loaded when
  the pipeline object is made: make it once per process, run it per case.

A pipeline never touches MRML nodes or files; the bridge and the apps do.
"""

from __future__ import annotations

from typing import Any, Optional, Protocol, runtime_checkable

from ..geometry import ImageGeometry
from ..image import Image
from ..runtime.progress import CancelToken, ProgressCallback

STATUS_OK = "ok"


@runtime_checkable
class PipelineResult(Protocol):
    geometry: ImageGeometry
    status: str
    warnings: tuple[str, ...]

    def to_json(self) -> dict: ...

    def csv_rows(self) -> list[dict]: ...


class Pipeline(Protocol):
    name: str

    def run(self, image: Image, options: Any = None, *, progress: Optional[ProgressCallback] = None,
            cancel: Optional[CancelToken] = None) -> PipelineResult: ...


def geometry_json(geometry: ImageGeometry) -> dict:
    """The geometry a result refers to, as JSON (IJK spacing, origin and axis directions in RAS)."""
    return {"spacing_ijk_mm": [round(v, 6) for v in geometry.spacing],
            "origin_ras_mm": [round(v, 4) for v in geometry.origin],
            "directions_ras": [[round(v, 6) for v in row] for row in geometry.directions]}


def joined(warnings) -> str:
    """Warnings as one CSV cell."""
    return "; ".join(warnings)
