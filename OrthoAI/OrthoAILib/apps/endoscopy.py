"""The endoscopy lesion pipeline's use cases: a frame or a video from a file, and ``orthoai endoscopy``.

Per frame the batch writes ``<name>.mask.png`` (0/255, the frame's size), ``<name>.overlay.png``
(the lesions fused onto the frame), ``<name>.depth.png`` (16-bit, depth in hundredths of a
millimetre, relative scale) and ``<name>.endoscopy.json``; a video ``<name>.mp4`` gives the same per
analysed frame as ``<name>.f<index>.*`` plus ``<name>.annotated.mp4``. A refused frame (not a colour
endoscopy frame) gets its JSON only. The runner adds one ``endoscopy.csv``: a row per lesion, and one
row for a frame without lesions.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional

import numpy as np

from ..errors import InputError
from ..io.endoscopy_frames import FRAME_SUFFIXES, VIDEO_SUFFIXES, frame_image, iter_video, read_frame, video_info
from ..io.pictures import png_bytes
from ..io.reports import write_json
from ..pipelines.base import STATUS_OK
from ..pipelines.endoscopy.fusion import depth_png_values, fuse, video_picture
from ..pipelines.endoscopy.pipeline import EndoscopyOptions, EndoscopyPipeline, EndoscopyResult, frame_rgb
from .instances import one_per_process
from .jobs import BatchJob, CaseInput, CaseOutcome

CSV_COLUMNS = ("input", "frame_index", "status", "lesion_count", "lesion", "area_px", "area_percent_of_field",
               "confidence", "peak_probability", "box_top_left_bottom_right", "median_depth_cm", "warnings", "message")


def shared_pipeline(device=None) -> EndoscopyPipeline:
    """One endoscopy pipeline per process and device: its two models load once."""
    return one_per_process(EndoscopyPipeline, device=device)


def is_video(path: str | Path) -> bool:
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


def analyse_frame_file(path: str | Path, pipeline: Optional[EndoscopyPipeline] = None,
                       options: Optional[EndoscopyOptions] = None, progress=None, cancel=None) -> tuple[EndoscopyResult, np.ndarray]:
    """(result, the frame as H×W×3 uint8)."""
    image = read_frame(path)
    result = (pipeline or shared_pipeline()).run(image, options, progress=progress, cancel=cancel)
    return result, frame_rgb(image)


def analyse_video(path: str | Path, pipeline: Optional[EndoscopyPipeline] = None, every: int = 1,
                  limit: Optional[int] = None, options: Optional[EndoscopyOptions] = None,
                  cancel=None) -> Iterator[tuple[EndoscopyResult, np.ndarray]]:
    """(result, frame) for every ``every``-th frame, one at a time (memory stays flat over a video)."""
    pipeline = pipeline or shared_pipeline()
    name = Path(path).name
    for index, rgb in iter_video(path, every, limit):
        if cancel is not None:
            cancel.raise_if_cancelled("Video analysis")
        image = frame_image(rgb, name)
        yield pipeline.analyse(rgb, name, image.geometry, options, frame_index=index, cancel=cancel), rgb


def frame_pictures(result: EndoscopyResult, rgb: np.ndarray) -> dict[str, bytes]:
    """The per-frame PNGs of a measured frame (none for a refused one)."""
    if result.status != STATUS_OK:
        return {}
    return {".mask.png": png_bytes(result.mask.astype(np.uint8) * 255), ".overlay.png": png_bytes(fuse(rgb, result.mask)),
            ".depth.png": png_bytes(depth_png_values(result.depth_cm))}


@dataclass(frozen=True)
class EndoscopyJob(BatchJob):
    """``orthoai endoscopy``: a frame, or a video, per case."""

    every: int = 1
    max_frames: Optional[int] = None

    pipeline = "endoscopy"
    csv_name = "endoscopy.csv"
    csv_columns = CSV_COLUMNS
    suffixes = FRAME_SUFFIXES + VIDEO_SUFFIXES

    def validate(self) -> None:
        if self.every < 1:
            raise InputError(f"--every {self.every}: give 1 (every frame) or more.")
        if self.max_frames is not None and self.max_frames < 1:
            raise InputError(f"--max-frames {self.max_frames}: give 1 or more.")

    def prepare(self) -> None:
        shared_pipeline()

    def _write(self, staging: Path, stem: str, result: EndoscopyResult, rgb: np.ndarray, files: list[str]) -> None:
        files.append(write_json(staging / f"{stem}.endoscopy.json", result.to_json()).name)
        for suffix, content in frame_pictures(result, rgb).items():
            (staging / f"{stem}{suffix}").write_bytes(content)
            files.append(f"{stem}{suffix}")

    def process(self, case: CaseInput, staging: Path) -> CaseOutcome:
        started = time.perf_counter()
        path = Path(case.paths[0])
        files: list[str] = []
        rows: list[dict] = []
        if not is_video(path):
            result, rgb = analyse_frame_file(path)
            self._write(staging, case.name, result, rgb, files)
            rows = [{**row, "input": case.label} for row in result.csv_rows()]
            message = result.message if result.status == STATUS_OK else f"{result.status}: {result.message}"
            return CaseOutcome(case.name, case.label, result.status, tuple(rows), tuple(files), message,
                               result.warnings, time.perf_counter() - started, result)
        return self._process_video(case, path, staging, started)

    def _process_video(self, case: CaseInput, path: Path, staging: Path, started: float) -> CaseOutcome:
        from ..io.endoscopy_frames import VideoWriter

        info = video_info(path)
        files: list[str] = [f"{case.name}.annotated.mp4"]
        rows: list[dict] = []
        counts = {"frames": 0, "refused": 0, "with_lesions": 0}
        warnings: tuple[str, ...] = ()
        writer = VideoWriter(staging / files[0], info.fps / self.every, info.rows, info.columns)
        try:
            for result, rgb in analyse_video(path, every=self.every, limit=self.max_frames):
                self._write(staging, f"{case.name}.f{result.frame_index:06d}", result, rgb, files)
                writer.write(video_picture(rgb, result.mask if result.status == STATUS_OK else None))
                rows += [{**row, "input": case.label} for row in result.csv_rows()]
                counts["frames"] += 1
                counts["refused"] += result.status != STATUS_OK
                counts["with_lesions"] += bool(result.lesions)
        except InputError as error:  # damaged mid-stream: keep what was read, say where it stopped
            if counts["frames"] == 0:
                raise
            warnings = (f"video_truncated: {error} The {counts['frames']} frame(s) before it are kept.",)
        finally:
            writer.close()
        if counts["frames"] == 0:
            raise InputError(f"{path.name}: the video has no frame that could be decoded.")
        status = STATUS_OK if counts["refused"] < counts["frames"] else rows[0]["status"]
        message = (f"{counts['frames']} frame(s) analysed, {counts['with_lesions']} with lesions, "
                   f"{counts['refused']} refused")
        return CaseOutcome(case.name, case.label, status, tuple(rows), tuple(files), message + "".join(
            f"; {w}" for w in warnings), warnings, time.perf_counter() - started)
