"""Speed and memory of the endoscopy pipeline at 352×352, printed as JSON.

1. Frames per second end to end as the issue counts it: read the frame file, preprocess, depth,
   depth-guided segmentation, lesions, fuse (the overlay picture); and with the three PNGs written
   too, as ``orthoai endoscopy`` does. Kvasir-SEG/CVC-ClinicDB frames resized to 352×352 when
   ``../shared/data/polyp`` is there, else rendered colon frames.
2. A video of those frames, three times over, through the batch's video path (decode, analyse,
   per-frame PNGs and JSON, annotated video): frames per second, and resident memory before and
   after (flat: ~0 MB per frame, as frames are analysed and written one at a time).

    .venv/bin/python Testing/benchmarks/bench_endoscopy_pipeline.py [FRAMES]
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from OrthoAILib.runtime.memory import resident_mb

FRAMES = int(sys.argv[1]) if len(sys.argv) > 1 else 60
SIZE = 352
POLYPS = Path(__file__).resolve().parents[3] / "shared" / "data" / "polyp"


def frames(folder: Path) -> tuple[list[Path], str]:
    from PIL import Image as PILImage

    folder.mkdir()
    if POLYPS.is_dir():
        sources = sorted((POLYPS / "Kvasir-SEG" / "images").glob("*.jpg"))[:FRAMES // 2] + \
            sorted((POLYPS / "CVC-ClinicDB" / "images").glob("*.jpg"))[:FRAMES - FRAMES // 2]
        for index, path in enumerate(sources):
            PILImage.open(path).convert("RGB").resize((SIZE, SIZE)).save(folder / f"frame{index:03d}.jpg", quality=95)
        label = "Kvasir-SEG and CVC-ClinicDB frames resized to 352x352 (JPEG)"
    else:
        from OrthoAILib.phantoms.colon_render import render_colon

        for index in range(FRAMES):
            rgb = (render_colon(900_000 + index, size=SIZE // 2).rgb * 255).astype(np.uint8)
            PILImage.fromarray(rgb).resize((SIZE, SIZE)).save(folder / f"frame{index:03d}.jpg", quality=95)
        label = "rendered colon frames, 352x352 (JPEG)"
    return sorted(folder.iterdir()), label


def frame_speed(paths: list[Path], out: Path) -> dict:
    from OrthoAILib.apps.endoscopy import frame_pictures, shared_pipeline
    from OrthoAILib.io.endoscopy_frames import read_frame
    from OrthoAILib.pipelines.endoscopy.fusion import fuse
    from OrthoAILib.pipelines.endoscopy.pipeline import frame_rgb

    began = time.perf_counter()
    pipeline = shared_pipeline()
    load = time.perf_counter() - began
    for path in paths[:3]:  # warm-up
        pipeline.run(read_frame(path))
    core, written = [], []
    out.mkdir()
    for path in paths:
        started = time.perf_counter()
        image = read_frame(path)
        result = pipeline.run(image)
        rgb = frame_rgb(image)
        fuse(rgb, result.mask) if result.mask is not None else rgb
        core.append(time.perf_counter() - started)
        for suffix, content in frame_pictures(result, rgb).items():
            (out / f"{path.stem}{suffix}").write_bytes(content)
        written.append(time.perf_counter() - started)
    return {"model_load_seconds": round(load, 2), "frames": len(paths),
            "read_depth_segment_fuse": {"seconds_per_frame_mean": round(statistics.mean(core), 4),
                                        "seconds_per_frame_median": round(statistics.median(core), 4),
                                        "frames_per_second": round(1 / statistics.mean(core), 1)},
            "with_three_pngs_written": {"seconds_per_frame_mean": round(statistics.mean(written), 4),
                                        "frames_per_second": round(1 / statistics.mean(written), 1)}}


def video_run(paths: list[Path], folder: Path) -> dict:
    from PIL import Image as PILImage

    from OrthoAILib.apps.endoscopy import EndoscopyJob
    from OrthoAILib.apps.jobs import CaseInput
    from OrthoAILib.io.endoscopy_frames import VideoWriter

    video = folder / "clip.mp4"
    repeats = 3
    with VideoWriter(video, 25.0, SIZE, SIZE) as writer:
        for _ in range(repeats):
            for path in paths:
                writer.write(np.asarray(PILImage.open(path).convert("RGB")))
    job = EndoscopyJob()
    job.prepare()
    staging = folder / "staging"
    staging.mkdir()
    memory = [resident_mb()]
    started = time.perf_counter()
    outcome = job.process(CaseInput("clip", (str(video),), "clip.mp4"), staging)
    seconds = time.perf_counter() - started
    memory.append(resident_mb())
    count = len({row["frame_index"] for row in outcome.rows})
    return {"video_frames": count, "seconds": round(seconds, 2), "frames_per_second": round(count / seconds, 1),
            "resident_mb_before_after": [round(m, 1) for m in memory],
            "mb_per_frame": round((memory[1] - memory[0]) / count, 3)}


def main() -> int:
    import torch

    with tempfile.TemporaryDirectory(prefix="orthoai-bench-endoscopy-") as temporary:
        folder = Path(temporary)
        paths, label = frames(folder / "frames")
        report = {"benchmark": "endoscopy pipeline", "frames_used": label, "frame_size": [SIZE, SIZE],
                  "torch_threads": torch.get_num_threads(), **frame_speed(paths, folder / "out"),
                  "video": video_run(paths, folder), "resident_mb_end": round(resident_mb(), 1)}
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
