"""Volumes onto axis-aligned grids of a chosen orientation and spacing, and back, through patient
space (SimpleITK resampling; LPS conversion at the boundary). Shared by the 3-D pipelines, each of
which fixes its own canonical orientation.
"""

from __future__ import annotations

import numpy as np

from ..geometry import ImageGeometry
from ..image import Image

_LPS = np.diag([-1.0, -1.0, 1.0])


def pad_to_multiple(array: np.ndarray, multiple: int, value: float = 0) -> tuple[np.ndarray, tuple]:
    """Pad each axis at its end to a multiple of ``multiple``; the pads, to crop back."""
    pads = tuple((0, (-n) % multiple) for n in array.shape)
    return np.pad(array, pads, constant_values=value), pads


def to_sitk(array: np.ndarray, geometry: ImageGeometry):
    import SimpleITK as sitk

    image = sitk.GetImageFromArray(np.ascontiguousarray(array))
    image.SetSpacing(tuple(float(s) for s in geometry.spacing))
    image.SetOrigin(tuple(_LPS @ np.asarray(geometry.origin)))
    image.SetDirection(tuple((_LPS @ np.asarray(geometry.directions)).ravel()))
    return image


def corners_ras(shape_kji, geometry: ImageGeometry) -> np.ndarray:
    k, j, i = (np.array([-0.5, n - 0.5]) for n in shape_kji)
    corners = np.array([[a, b, c] for a in i for b in j for c in k])
    return geometry.ijk_to_world(corners)


def canonical_grid(low_ras: np.ndarray, high_ras: np.ndarray, spacing: float, directions, multiple: int = 1) -> tuple[tuple, ImageGeometry]:
    """A grid of axes ``directions`` (columns I, J, K in RAS) covering the RAS box ``low``-``high``,
    each side a multiple of ``multiple`` voxels; its shape (KJI) and geometry."""
    axes = tuple(tuple(float(v) for v in row) for row in directions)
    directions = np.array(axes)
    # Extent along each of the grid's axes (I, J, K) of the box's corners.
    box = np.array([[x, y, z] for x in (low_ras[0], high_ras[0]) for y in (low_ras[1], high_ras[1])
                    for z in (low_ras[2], high_ras[2])])
    along = box @ directions  # columns: coordinate along I, J, K
    start, stop = along.min(0), along.max(0)
    counts = np.maximum(np.ceil((stop - start) / spacing).astype(int), 1)
    counts = counts + (-counts) % multiple
    centre = (start + stop) / 2
    first = centre - (counts - 1) / 2 * spacing  # the first voxel's centre along I, J, K
    origin = directions @ first
    geometry = ImageGeometry((spacing,) * 3, tuple(origin), axes)
    return tuple(int(c) for c in counts[::-1]), geometry


def resample(array: np.ndarray, geometry: ImageGeometry, shape_kji, target: ImageGeometry,
             interpolation: str = "linear", default: float = 0.0) -> np.ndarray:
    """``array`` (on ``geometry``) sampled onto the target grid through patient space."""
    import SimpleITK as sitk

    source = to_sitk(array.astype(np.float32) if interpolation == "linear" else array, geometry)
    reference = to_sitk(np.zeros(shape_kji, dtype=np.uint8), target)
    method = sitk.sitkLinear if interpolation == "linear" else sitk.sitkNearestNeighbor
    result = sitk.Resample(source, reference, sitk.Transform(), method, default, source.GetPixelID())
    return sitk.GetArrayFromImage(result)


def binned(array: np.ndarray, geometry: ImageGeometry, spacing: float) -> tuple[np.ndarray, ImageGeometry]:
    """Averaged over whole blocks of voxels towards ``spacing`` (anti-aliasing before a coarser grid:
    a 0.36 mm image sampled every 2.8 mm would keep single noisy voxels)."""
    import SimpleITK as sitk

    factors = [max(1, int(spacing / s)) for s in geometry.spacing]  # I, J, K
    if max(factors) == 1:
        return array, geometry
    shrunk = sitk.BinShrink(to_sitk(array.astype(np.float32), geometry), factors)
    directions = _LPS @ np.asarray(shrunk.GetDirection()).reshape(3, 3)
    return (sitk.GetArrayFromImage(shrunk),
            ImageGeometry(tuple(shrunk.GetSpacing()), tuple(_LPS @ np.asarray(shrunk.GetOrigin())), tuple(map(tuple, directions))))


def resample_to_canonical(image: Image, spacing: float, directions, interpolation: str = "linear",
                          multiple: int = 1, default: float = 0.0) -> tuple[np.ndarray, ImageGeometry]:
    """The whole image on a grid of axes ``directions`` and this spacing (intensities
    block-averaged first)."""
    corners = corners_ras(image.array.shape, image.geometry)
    shape, geometry = canonical_grid(corners.min(0), corners.max(0), spacing, directions, multiple)
    array, source = (image.array, image.geometry) if interpolation != "linear" else binned(image.array, image.geometry, spacing)
    return resample(array, source, shape, geometry, interpolation, default), geometry


def antialiased_crop(image: Image, low_ras: np.ndarray, high_ras: np.ndarray, spacing: float) -> tuple[np.ndarray, ImageGeometry]:
    """The input inside a RAS box (a voxel of margin), smoothed so that sampling it every ``spacing``
    mm does not alias: a Gaussian of 0.5·sqrt((spacing/s)² - 1) voxels along each axis finer than
    ``spacing`` (what a scan acquired at that resolution would have averaged)."""
    from scipy import ndimage

    box = np.array([[x, y, z] for x in (low_ras[0], high_ras[0]) for y in (low_ras[1], high_ras[1])
                    for z in (low_ras[2], high_ras[2])])
    ijk = image.geometry.world_to_ijk(box)
    shape_ijk = np.array(image.array.shape[::-1])
    first = np.clip(np.floor(ijk.min(0)).astype(int) - 2, 0, shape_ijk - 1)
    last = np.clip(np.ceil(ijk.max(0)).astype(int) + 3, first + 1, shape_ijk)
    crop = image.array[first[2]:last[2], first[1]:last[1], first[0]:last[0]].astype(np.float32)
    ratio = spacing / np.asarray(image.geometry.spacing)[::-1]  # K, J, I
    sigma = np.where(ratio > 1, 0.5 * np.sqrt(np.maximum(ratio ** 2 - 1, 0)), 0.0)
    if sigma.any():
        crop = ndimage.gaussian_filter(crop, sigma, mode="nearest")
    origin = image.geometry.ijk_to_world(first.astype(float))
    return crop, ImageGeometry(image.geometry.spacing, tuple(origin), image.geometry.directions)
