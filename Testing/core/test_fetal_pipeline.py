"""The fetal head pipeline with its shipped models, on real HC18 validation stills and on images
without a head."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from OrthoAILib.errors import Cancelled
from OrthoAILib.geometry import radiograph_geometry
from OrthoAILib.image import Image, ImageOrigin
from OrthoAILib.pipelines.fetal.pipeline import FetalOptions
from OrthoAILib.runtime.progress import CancelToken

from ..conftest import REPO_ROOT, SHARED_DATA

HC18 = SHARED_DATA / "hc18"
needs_models = pytest.mark.skipif(not (REPO_ROOT / "Resources" / "Models" / "fetal_head_seg.pt").is_file(),
                                  reason="the fetal head models are not shipped yet")
needs_hc18 = pytest.mark.skipif(not HC18.is_dir(), reason=f"needs the real HC18 stills in {HC18} (not in this checkout)")
pytestmark = needs_models


@pytest.fixture(scope="module")
def pipeline():
    from OrthoAILib.pipelines.fetal.pipeline import FetalHeadPipeline

    return FetalHeadPipeline(force_cpu=True)


def still(plane: np.ndarray, pixel_size=None) -> Image:
    spacing = (pixel_size, pixel_size) if pixel_size else (1.0, 1.0)
    return Image(plane[None].astype(np.float32), radiograph_geometry(plane.shape, spacing),
                 ImageOrigin("test", "US", "given by the user" if pixel_size else "none", pixel_size is not None))


def hc18(stem: str):
    from PIL import Image as PILImage

    with (HC18 / "pixel_size_and_hc.csv").open(newline="") as handle:
        row = next(r for r in csv.DictReader(handle) if r["filename"] == f"{stem}.png")
    image = np.asarray(PILImage.open(HC18 / "images" / f"{stem}.png").convert("L"))
    mask = np.asarray(PILImage.open(HC18 / "masks" / f"{stem}.png").convert("L")) > 127
    return image, mask, float(row["pixel_size_mm"]), float(row["head_circumference_mm"])


@needs_hc18
@pytest.mark.parametrize("stem", ["020_HC", "145_HC", "300_HC"])
def test_a_validation_head_is_segmented_and_measured(pipeline, stem):
    image, mask, pixel_size, reference_hc = hc18(stem)
    result = pipeline.run(still(image, pixel_size), FetalOptions(ga_weeks=22.0))
    assert result.status == "ok", result.message
    dice = 2 * (result.mask & mask).sum() / (result.mask.sum() + mask.sum())
    assert dice > 0.93
    assert abs(result.measures.biometry.hc_mm - reference_hc) < 6.0
    assert sum(result.class_probabilities.values()) == pytest.approx(1.0, abs=1e-4)
    inside = result.measures.ellipse.mask(image.shape)
    assert result.heatmap.min() >= 0 and result.heatmap.max() <= 1
    assert result.heatmap[inside].mean() > result.heatmap[~inside].mean()  # the heatmap looks at the head
    assert result.measures.growth is not None


@needs_hc18
@pytest.mark.parametrize("turn", ["mirrored", "upside down"])
def test_turning_the_still_does_not_change_the_measures(pipeline, turn):
    image, _, pixel_size, _ = hc18("145_HC")
    turned_image = image[:, ::-1] if turn == "mirrored" else image[::-1, ::-1]
    upright = pipeline.run(still(image, pixel_size)).measures.biometry
    turned = pipeline.run(still(np.ascontiguousarray(turned_image), pixel_size)).measures.biometry
    assert abs(upright.hc_mm - turned.hc_mm) < 2.0
    assert abs(upright.cephalic_index - turned.cephalic_index) < 2.0


@needs_hc18
def test_without_a_pixel_size_only_the_ratio_is_given(pipeline):
    image, _, _, _ = hc18("020_HC")
    result = pipeline.run(still(image))
    document = result.to_json()
    assert result.status == "ok" and document["hc_mm"] is None and document["cephalic_index"] > 50
    assert any(w.startswith("no_pixel_size") for w in result.warnings)


def test_speckle_and_blank_images_are_not_heads(pipeline):
    from OrthoAILib.pipelines.fetal.training.negatives import speckle

    for plane in (speckle((540, 800), np.random.default_rng(3)), np.zeros((540, 800))):
        result = pipeline.run(still(plane, 0.1))
        assert result.status in ("no_head", "low_confidence")
        assert result.measures is None and result.mask is None and result.heatmap is None
        assert result.to_json()["head_found"] is False


def test_cancel_stops_the_run(pipeline):
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        pipeline.run(still(np.zeros((540, 800)), 0.1), cancel=token)
