"""Reading volumes from files: what is refused before any voxel is used."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from OrthoAILib.errors import InputError
from OrthoAILib.io.volume import read_labelmap, read_volume


def write(path, array):
    sitk.WriteImage(sitk.GetImageFromArray(array), str(path), useCompression=True)
    return path


def test_a_truncated_compressed_volume_is_refused_not_read_as_zeros(tmp_path):
    whole = write(tmp_path / "whole.nii.gz", np.random.default_rng(0).normal(100, 20, (30, 40, 40)).astype(np.float32))
    cut = tmp_path / "cut.nii.gz"
    cut.write_bytes(whole.read_bytes()[:3000])
    assert read_volume([whole]).array.shape == (30, 40, 40)
    with pytest.raises(InputError, match="truncated"):
        read_volume([cut])


def test_an_image_is_not_taken_for_a_labelmap(tmp_path):
    grey = write(tmp_path / "grey.nrrd", (np.random.default_rng(0).random((10, 64, 64)) * 4000).astype(np.int16))
    with pytest.raises(InputError, match="not a labelmap"):
        read_labelmap([grey])
    fractional = write(tmp_path / "fractional.nrrd", np.full((4, 8, 8), 1.5, np.float32))
    with pytest.raises(InputError, match="fractional"):
        read_labelmap([fractional])
    labels = write(tmp_path / "labels.nrrd", np.arange(4 * 8 * 8).reshape(4, 8, 8).astype(np.uint8) % 5)
    assert read_labelmap([labels]).array.dtype == np.int32
