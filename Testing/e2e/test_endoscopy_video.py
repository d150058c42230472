"""``orthoai endoscopy`` on rendered colon frames and videos (no shared data needed): the files, the
CSV, a cut video that keeps what was read, and the scene left unchanged by a refused frame."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from PIL import Image as PILImage

from OrthoAILib.io.endoscopy_frames import VideoWriter, iter_video
from OrthoAILib.phantoms.colon_render import render_colon

from ..conftest import REPO_ROOT
from .test_cli import orthoai

pytestmark = pytest.mark.skipif(not (REPO_ROOT / "Resources" / "Models" / "endoscopy_polyp_seg.pt").is_file(),
                                reason="the endoscopy models are not shipped yet")


def rendered(seed: int) -> np.ndarray:
    rgb = (render_colon(900_000 + seed, size=128).rgb * 255).astype(np.uint8)
    return np.asarray(PILImage.fromarray(rgb).resize((256, 256)))


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clips")
    PILImage.fromarray(rendered(0)).save(folder / "frame.png")
    with VideoWriter(folder / "clip.mp4", 10.0, 256, 256) as writer:
        for seed in range(5):
            writer.write(rendered(seed))
    whole = (folder / "clip.mp4").read_bytes()
    (folder / "cut.mp4").write_bytes(whole[: int(len(whole) * 0.6)])
    out = tmp_path_factory.mktemp("out")
    result = orthoai("endoscopy", folder, "--out", out)
    with (out / "endoscopy.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return out, result, rows


def test_a_frame_gets_mask_overlay_depth_and_json(run):
    out, _, rows = run
    mask = np.asarray(PILImage.open(out / "frame.mask.png"))
    assert mask.shape == (256, 256) and set(np.unique(mask)) <= {0, 255}
    depth = np.asarray(PILImage.open(out / "frame.depth.png"))
    assert depth.dtype.kind in "iu" and depth.max() > 0 and depth[0, 0] >= 0
    document = json.loads((out / "frame.endoscopy.json").read_text(encoding="utf-8"))
    assert document["status"] == "ok" and "relative scale" in document["depth_note"]
    assert next(r for r in rows if r["input"] == "frame.png")["lesion_count"] == str(document["lesion_count"])


def test_a_video_is_analysed_frame_by_frame_with_an_annotated_copy(run):
    out, _, rows = run
    assert sorted(int(r["frame_index"]) for r in rows if r["input"] == "clip.mp4" and r["lesion"] in ("", "1")) == \
        [0, 1, 2, 3, 4]
    assert len(list(iter_video(out / "clip.annotated.mp4"))) == 5
    assert (out / "clip.f000004.depth.png").is_file()


def test_a_cut_video_keeps_the_frames_before_the_damage_or_fails_alone(run):
    out, result, rows = run
    cut = [r for r in rows if r["input"] == "cut.mp4"]
    assert cut, "the cut video has rows"
    if cut[0]["status"] == "failed":
        assert "video" in cut[0]["warnings"]
    else:
        assert (out / "cut.annotated.mp4").is_file()
    assert "Traceback" not in result.stderr
