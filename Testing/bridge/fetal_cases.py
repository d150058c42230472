"""Fetal head results built from the core's dataclasses (no model needed), shared by the bridge tests:
a synthetic still with a known head ellipse, the result a pipeline would give for it, a refusal, and
the files the inference server sends for a result."""

import numpy as np

from OrthoAILib.apps.fetal import png_bytes
from OrthoAILib.geometry import ImageGeometry
from OrthoAILib.pipelines.fetal.ellipse import Ellipse
from OrthoAILib.pipelines.fetal.heatmap import fuse
from OrthoAILib.pipelines.fetal.pipeline import FetalResult, measure_ellipse
from OrthoAILib.pipelines.fetal.presence import PresenceScores

from ..conftest import random_rotation

ROWS, COLUMNS = 270, 400
PIXEL_MM = 0.15
HEAD = Ellipse((205.0, 131.0), (110.0, 84.0), 28.0)
PROBABILITIES = {"normal": 0.83, "dolichocephalic": 0.05, "brachycephalic": 0.12}


def tilted_geometry(spacing=(PIXEL_MM, PIXEL_MM, 1.0)) -> ImageGeometry:
    """A still in an oblique plane, away from the origin: placement must go through IJK→RAS."""
    return ImageGeometry(spacing=spacing, origin=(12.0, -30.0, 44.0), directions=tuple(map(tuple, random_rotation(3))))


def still_pixels(seed: int = 0) -> np.ndarray:
    speckle = np.random.default_rng(seed).random((ROWS, COLUMNS)) * 60
    return (speckle + 140 * HEAD.mask((ROWS, COLUMNS))).astype(np.uint8)


def saliency() -> np.ndarray:
    rows, columns = np.mgrid[0:ROWS, 0:COLUMNS]
    distance = np.hypot(rows - HEAD.center_px[1], columns - HEAD.center_px[0])
    return np.clip(1.0 - distance / 120.0, 0.0, 1.0).astype(np.float32)


def head_result(geometry, pixel_size=(PIXEL_MM, PIXEL_MM), ga_weeks=21.0) -> FetalResult:
    measures = measure_ellipse(HEAD, pixel_size, ga_weeks)
    return FetalResult("still.png", geometry, "ok", "", PresenceScores(0.96, 0.97, 0.25, True), pixel_size,
                       "volume spacing" if pixel_size else "none", measures, "normal", PROBABILITIES,
                       HEAD.mask((ROWS, COLUMNS)), saliency())


def refused_result(geometry) -> FetalResult:
    return FetalResult("thorax.png", geometry, "no_head", "no fetal head found in this image; nothing was measured",
                       PresenceScores(0.3, 0.4, 0.05, True), (PIXEL_MM, PIXEL_MM), "volume spacing")


def server_files(result: FetalResult):
    """What the server sends for a result: the still, its JSON, the heatmap picture and the mask."""
    plane = still_pixels(seed=4)
    heatmap = fuse(plane.astype(np.float32), result.heatmap) if result.heatmap is not None else None
    mask = result.mask.astype(np.uint8) * 255 if result.mask is not None else None
    return (png_bytes(plane), result.to_json(), None if heatmap is None else png_bytes(heatmap),
            None if mask is None else png_bytes(mask), plane, heatmap)
