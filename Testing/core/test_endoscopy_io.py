"""Reading endoscopy frames and videos: sizes checked first, damaged files said so."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image as PILImage

from OrthoAILib.errors import InputError
from OrthoAILib.io.endoscopy_frames import VideoWriter, iter_video, read_frame, video_info


def write_video(path, count=6, rows=96, columns=128):
    with VideoWriter(path, 10.0, rows, columns) as writer:
        for index in range(count):
            frame = np.zeros((rows, columns, 3), np.uint8)
            frame[..., 0] = (40 * index) % 250
            writer.write(frame)
    return path


def test_frames_are_read_as_colour_and_alpha_is_dropped(tmp_path):
    rgba = np.zeros((100, 120, 4), np.uint8)
    rgba[..., 0], rgba[..., 3] = 200, 255
    PILImage.fromarray(rgba).save(tmp_path / "a.png")
    image = read_frame(tmp_path / "a.png")
    assert image.array.shape == (1, 100, 120, 3) and image.array.dtype == np.uint8
    PILImage.fromarray(np.full((100, 120), 90, np.uint8)).save(tmp_path / "grey.png")
    assert read_frame(tmp_path / "grey.png").array.shape == (1, 100, 120, 3)


@pytest.mark.parametrize("size", [(20, 20), (9000, 70)])
def test_implausible_sizes_are_refused_before_decoding(tmp_path, size):
    PILImage.new("RGB", size).save(tmp_path / "x.png")
    with pytest.raises(InputError, match="not an endoscopy frame"):
        read_frame(tmp_path / "x.png")


def test_a_file_that_is_no_image_is_said_so(tmp_path):
    (tmp_path / "x.jpg").write_bytes(b"not a jpeg at all")
    with pytest.raises(InputError, match="cannot be read as an image"):
        read_frame(tmp_path / "x.jpg")


def test_video_frames_come_out_in_order(tmp_path):
    path = write_video(tmp_path / "v.mp4")
    info = video_info(path)
    assert (info.rows, info.columns) == (96, 128)
    frames = list(iter_video(path))
    assert [i for i, _ in frames] == list(range(6))
    assert frames[3][1][..., 0].mean() == pytest.approx(120, abs=12)
    assert [i for i, _ in iter_video(path, every=2, limit=2)] == [0, 2]


def test_damaged_videos_are_refused_with_a_reason(tmp_path):
    (tmp_path / "junk.mp4").write_bytes(b"\x00" * 5000)
    with pytest.raises(InputError, match="cannot be read as a video"):
        video_info(tmp_path / "junk.mp4")
    whole = write_video(tmp_path / "whole.mp4", count=30).read_bytes()
    (tmp_path / "cut.mp4").write_bytes(whole[: len(whole) // 2])
    with pytest.raises(InputError):
        list(iter_video(tmp_path / "cut.mp4"))
