"""Reading endoscopy frames (PNG, JPEG, BMP, TIFF) and videos (MP4, AVI, MOV, MKV, read frame by frame).

A frame becomes a one-slice colour :class:`Image` (``1×rows×columns×3``, uint8) with a nominal
1-pixel spacing: an endoscope's picture has no calibrated pixel size, so areas are reported in
pixels and as a fraction of the field of view. Alpha is dropped; a greyscale frame stays grey (the
pipeline refuses it with a status, because it was trained on colour). Sizes are checked from the
header (bitmaps) or the stream (videos) before pixels are decoded.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional

import numpy as np

from ..errors import InputError
from ..geometry import radiograph_geometry
from ..image import Image, ImageOrigin

FRAME_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".mpg", ".mpeg", ".webm")
MIN_SIDE, MAX_SIDE, MAX_PIXELS = 64, 8192, 40_000_000
MAX_VIDEO_FRAMES = 200_000


def check_frame_size(rows: int, columns: int, where: str) -> None:
    if min(rows, columns) < MIN_SIDE or max(rows, columns) > MAX_SIDE or rows * columns > MAX_PIXELS:
        raise InputError(f"{where}: {columns}×{rows} pixels is not an endoscopy frame this pipeline reads (each side "
                         f"{MIN_SIDE} to {MAX_SIDE} pixels, at most {MAX_PIXELS // 1_000_000} megapixels); give the "
                         "frame as the video processor recorded it.")


def frame_image(rgb: np.ndarray, name: str, modality: str = "ES") -> Image:
    """An H×W×3 uint8 frame as a one-slice colour image with a nominal 1-pixel spacing."""
    geometry = radiograph_geometry(rgb.shape[:2], (1.0, 1.0))
    return Image(rgb[np.newaxis], geometry, ImageOrigin(name, modality, "none", False))


def _as_rgb(pixels: np.ndarray) -> np.ndarray:
    if pixels.dtype == bool:
        pixels = pixels.astype(np.uint8) * 255
    if pixels.dtype != np.uint8:  # 16-bit and float bitmaps: scale their range to 8 bits
        pixels = pixels.astype(np.float64)
        top = float(pixels.max()) or 1.0
        pixels = np.clip(pixels / top * 255, 0, 255).astype(np.uint8)
    if pixels.ndim == 2:
        pixels = pixels[..., None]
    if pixels.shape[-1] in (2, 4):
        pixels = pixels[..., :-1]
    if pixels.shape[-1] == 1:
        pixels = np.repeat(pixels, 3, axis=-1)
    return np.ascontiguousarray(pixels)


def read_frame(path: str | Path) -> Image:
    from PIL import Image as PILImage, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise InputError(f"No such frame: {path}")
    try:
        with PILImage.open(path) as picture:
            check_frame_size(picture.height, picture.width, path.name)
            picture.load()
            pixels = np.asarray(picture.convert("RGB") if picture.mode in ("P", "CMYK", "YCbCr", "LAB", "HSV") else picture)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        detail = " ".join(str(error).split())[:120]
        raise InputError(f"{path.name} cannot be read as an image ({detail}): give a PNG, JPEG, BMP or TIFF frame, "
                         "or a video file.") from None
    return frame_image(_as_rgb(pixels), path.name)


@dataclass(frozen=True)
class VideoInfo:
    rows: int
    columns: int
    frames: Optional[int]  # as the container states it; None when unknown
    fps: float


def video_info(path: str | Path) -> VideoInfo:
    import av

    path = Path(path)
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise InputError(f"{path.name} has no video stream: give a video file (MP4, AVI, MOV, MKV).")
            stream = container.streams.video[0]
            rows, columns = stream.codec_context.height, stream.codec_context.width
            rate = float(stream.average_rate) if stream.average_rate else 25.0
            frames = int(stream.frames) or None
    except av.FFmpegError as error:
        raise InputError(f"{path.name} cannot be read as a video ({' '.join(str(error).split())[:120]}): "
                         "is the file complete? Give an MP4, AVI, MOV or MKV file.") from None
    check_frame_size(rows, columns, path.name)
    return VideoInfo(rows, columns, frames, rate)


def iter_video(path: str | Path, every: int = 1, limit: Optional[int] = None) -> Iterator[tuple[int, np.ndarray]]:
    """``(frame index, H×W×3 uint8)`` for every ``every``-th frame. A file that breaks mid-stream
    raises ``InputError`` after the frames read so far have been given out."""
    import av

    path = Path(path)
    video_info(path)
    given = 0
    try:
        with av.open(str(path)) as container:
            for index, frame in enumerate(container.decode(video=0)):
                if index >= MAX_VIDEO_FRAMES:
                    raise InputError(f"{path.name} has more than {MAX_VIDEO_FRAMES} frames: cut it or use --every.")
                if index % every:
                    continue
                yield index, frame.to_ndarray(format="rgb24")
                given += 1
                if limit is not None and given >= limit:
                    return
    except av.FFmpegError as error:
        raise InputError(f"{path.name} is damaged after frame {given} ({' '.join(str(error).split())[:120]}).") from None


class VideoWriter:
    """An MP4 (MPEG-4 part 2, readable everywhere) written frame by frame."""

    def __init__(self, path: str | Path, fps: float, rows: int, columns: int) -> None:
        import av
        from fractions import Fraction

        self._container = av.open(str(path), mode="w")
        self._stream = self._container.add_stream("mpeg4", rate=Fraction(round(fps * 1000), 1000))
        self._stream.width, self._stream.height = columns - columns % 2, rows - rows % 2
        self._stream.pix_fmt = "yuv420p"
        self._stream.bit_rate = 4_000_000

    def write(self, rgb: np.ndarray) -> None:
        import av

        rgb = np.ascontiguousarray(rgb[: self._stream.height, : self._stream.width])
        for packet in self._stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
            self._container.mux(packet)

    def close(self) -> None:
        for packet in self._stream.encode():
            self._container.mux(packet)
        self._container.close()

    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
