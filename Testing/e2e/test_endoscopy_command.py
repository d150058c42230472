"""``orthoai endoscopy`` end to end on real Kvasir-SEG and CVC-ClinicDB validation frames, a video made of
them, and wrong input (grey, not endoscopy, broken, tiny, a cut video)."""

from __future__ import annotations

import csv
import hashlib
import json

import numpy as np
import pytest
from PIL import Image as PILImage

from OrthoAILib.io.endoscopy_frames import VideoWriter, iter_video

from ..conftest import REPO_ROOT, SHARED_DATA
from .test_cli import orthoai

POLYPS = SHARED_DATA / "polyp"
MODELS = REPO_ROOT / "Resources" / "Models"

pytestmark = [
    pytest.mark.skipif(not (MODELS / "endoscopy_polyp_seg.pt").is_file(), reason="the endoscopy models are not shipped yet"),
    pytest.mark.skipif(not POLYPS.is_dir(), reason=f"needs the real polyp frames in {POLYPS} (not in this checkout)"),
]


def validation_cases():
    from OrthoAILib.pipelines.endoscopy.training.polyps import polyp_cases, split

    _, validation = split(polyp_cases(POLYPS))
    return [c for c in validation if c.source == "kvasir"][:3] + [c for c in validation if c.source == "cvc"][:3]


def digest(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    folder = tmp_path_factory.mktemp("frames")
    cases = validation_cases()
    frames = {}
    for case in cases:
        rgb = np.asarray(PILImage.open(case.image_path).convert("RGB"))
        PILImage.fromarray(rgb).save(folder / f"{case.source}_{case.name}.png")
        frames[f"{case.source}_{case.name}"] = (rgb, np.asarray(PILImage.open(case.mask_path).convert("L")) > 127)
    first = next(iter(frames.values()))[0]
    PILImage.fromarray(first.mean(axis=2).astype(np.uint8)).save(folder / "grey.png")
    PILImage.fromarray(first[..., [1, 0, 2]]).save(folder / "green.png")  # colours of no mucosa
    PILImage.new("RGB", (30, 30)).save(folder / "tiny.png")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff" + b"\x00" * 100)
    with VideoWriter(folder / "clip.mp4", 5.0, 256, 256) as writer:
        for rgb, _ in list(frames.values())[:4]:
            writer.write(np.asarray(PILImage.fromarray(rgb).resize((256, 256))))
    before = digest(folder)
    out = folder / "results"  # inside the input folder: nothing there may be overwritten or read back
    result = orthoai("endoscopy", folder, "--out", out)
    with (out / "endoscopy.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return folder, out, result, rows, frames, before


def test_lesions_are_found_where_the_experts_drew_them(cohort):
    _, out, _, rows, frames, _ = cohort
    dice = []
    for stem, (rgb, truth) in frames.items():
        mask_picture = np.asarray(PILImage.open(out / f"{stem}.mask.png"))
        assert mask_picture.shape == truth.shape and set(np.unique(mask_picture)) <= {0, 255}
        predicted = mask_picture > 0
        dice.append(2 * (predicted & truth).sum() / max(predicted.sum() + truth.sum(), 1))
        overlay = np.asarray(PILImage.open(out / f"{stem}.overlay.png"))
        assert overlay.shape == rgb.shape and (overlay[~predicted] == rgb[~predicted]).mean() > 0.95
        depth = PILImage.open(out / f"{stem}.depth.png")
        assert depth.mode.startswith("I;16") and np.asarray(depth).max() > 0
        document = json.loads((out / f"{stem}.endoscopy.json").read_text(encoding="utf-8"))
        assert document["status"] == "ok" and document["lesion_count"] == len(document["lesions"])
    # the shipped model's validation Dice is about 0.5 (README); a broken one scores near 0
    assert float(np.mean(dice)) > 0.45, dice
    assert sum(d > 0.4 for d in dice) >= len(dice) - 2, dice


def test_frames_that_are_not_colour_endoscopy_are_refused_with_nothing_measured(cohort):
    _, out, _, rows, _, _ = cohort
    for stem, words in (("grey", "greyscale"), ("green", "mucosa")):
        row = next(r for r in rows if r["input"] == f"{stem}.png")
        assert row["status"] == "not_endoscopy" and words in row["message"] and row["lesion_count"] == "0"
        assert json.loads((out / f"{stem}.endoscopy.json").read_text(encoding="utf-8"))["lesions"] == []
        assert not (out / f"{stem}.mask.png").exists() and not (out / f"{stem}.overlay.png").exists()


def test_bad_files_fail_alone_with_a_reason(cohort):
    _, _, result, rows, _, _ = cohort
    by_input = {r["input"]: r for r in rows}
    assert by_input["tiny.png"]["status"] == "failed" and "30×30" in by_input["tiny.png"]["warnings"]
    assert by_input["broken.jpg"]["status"] == "failed" and "cannot be read" in by_input["broken.jpg"]["warnings"]
    assert result.returncode == 1 and "Traceback" not in result.stderr


def test_a_video_gives_per_frame_files_rows_and_an_annotated_video(cohort):
    _, out, _, rows, _, _ = cohort
    video_rows = [r for r in rows if r["input"] == "clip.mp4"]
    assert sorted({int(r["frame_index"]) for r in video_rows}) == [0, 1, 2, 3]
    for index in range(4):
        assert (out / f"clip.f{index:06d}.overlay.png").is_file()
    annotated = list(iter_video(out / "clip.annotated.mp4"))
    assert len(annotated) == 4 and annotated[0][1].shape == (256, 256, 3)


def test_inputs_are_never_touched(cohort):
    folder, _, _, _, _, before = cohort
    assert digest(folder) == before
