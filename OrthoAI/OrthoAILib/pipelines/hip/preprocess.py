"""Radiograph preprocessing for the hip keypoint detector (the source method, made robust).

1. resample to 0.1 mm pixels (linear interpolation);
2. downscale ×¼ by 4×4 block means, to 0.4 mm pixels;
3. discard the lowest 2 % of intensities and normalise the rest to 0..1;
4. tiled contrast-limited histogram equalisation (CLAHE), clip limit 100 on
   OpenCV's scale (counts per bin relative to a uniform histogram of 256 bins),
   8×8 tiles: on a 350–430 mm film a tile is about 45–55 mm, the size of one
   acetabulum with its surroundings, so local contrast adapts to the
   structures the keypoints sit on and not to the whole pelvis;
5. pad to a square and resize to the detector's 512×512 input.

The 0.4 mm image is kept for the refinement stage, and every step's geometry
is kept so keypoints map back to the original pixels (and so to mm).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ...errors import InputError

FINE_MM = 0.1
WORK_MM = 0.4
DETECTOR_SIZE = 512
CLAHE_TILES = 8
CLAHE_CLIP_OPENCV = 100.0
CLAHE_BINS = 256
LOW_PERCENTILE = 2.0


@dataclass(frozen=True)
class HipPreprocessed:
    work: np.ndarray  # float32, 0.4 mm pixels after normalisation and CLAHE
    detector_input: np.ndarray  # float32 512×512
    original_spacing_mm: tuple[float, float]  # (row, column)
    original_shape: tuple[int, int]
    pad_rc: tuple[int, int]  # padding added before the work image's top/left to make it square
    square_size: int  # side of the padded square, in work pixels

    # original pixel (row, column) <-> work pixel: centres of 0.4 mm pixels sit at
    # -spacing/2 + 0.2 + 0.4 m mm, the original pixel centres at spacing · r mm.
    def original_to_work(self, rc) -> np.ndarray:
        rc = np.asarray(rc, dtype=float)
        spacing = np.asarray(self.original_spacing_mm)
        return (rc * spacing + spacing / 2 - WORK_MM / 2) / WORK_MM

    def work_to_original(self, rc) -> np.ndarray:
        rc = np.asarray(rc, dtype=float)
        spacing = np.asarray(self.original_spacing_mm)
        return (rc * WORK_MM + WORK_MM / 2 - spacing / 2) / spacing

    @property
    def detector_scale(self) -> float:
        """Detector pixels per work pixel."""
        return DETECTOR_SIZE / self.square_size

    def work_to_detector(self, rc) -> np.ndarray:
        return (np.asarray(rc, dtype=float) + np.asarray(self.pad_rc) + 0.5) * self.detector_scale - 0.5

    def detector_to_work(self, rc) -> np.ndarray:
        return (np.asarray(rc, dtype=float) + 0.5) / self.detector_scale - 0.5 - np.asarray(self.pad_rc)


def averaging_interpolation_matrix(count_in: int, spacing_in: float, count_out: int):
    """Sparse (count_out × count_in) matrix: linear interpolation at the 0.1 mm sample
    positions, then the mean of each run of 4 (one 0.4 mm pixel). Edge pixels repeat."""
    from scipy.sparse import csr_matrix

    out_index = np.repeat(np.arange(count_out), 4)
    fine_index = np.arange(4 * count_out)
    position = (-spacing_in / 2 + FINE_MM / 2 + FINE_MM * fine_index) / spacing_in  # in input pixels
    position = np.clip(position, 0.0, count_in - 1.0)
    lower = np.minimum(np.floor(position).astype(int), count_in - 2) if count_in > 1 else np.zeros_like(fine_index)
    upper_weight = position - lower if count_in > 1 else np.zeros_like(position)
    rows = np.concatenate([out_index, out_index])
    columns = np.concatenate([lower, np.minimum(lower + 1, count_in - 1)])
    weights = np.concatenate([1.0 - upper_weight, upper_weight]) / 4.0
    return csr_matrix((weights.astype(np.float32), (rows, columns)), shape=(count_out, count_in))


def resample_to_work(pixels: np.ndarray, spacing_mm: tuple[float, float], mirrored_too: bool = False):
    """Steps 1–2: linear resampling to 0.1 mm, then 4×4 block means (0.4 mm).

    Both steps are linear and separable, so they are applied at once as one
    sparse matrix per axis; the result equals resampling then averaging, without
    the 15-megapixel intermediate image. ``mirrored_too``: also the mirrored film's
    (columns reversed) work image, as a second result: the pass along the rows, the
    costly one, is the same for both and is done once; the result is the very one
    the mirrored film gives.
    """
    rows, columns = pixels.shape
    extent = (rows * spacing_mm[0], columns * spacing_mm[1])
    # Whole 0.4 mm pixels. The tolerance keeps a film whose extent is a whole number of work
    # pixels from losing one when its spacing changes in the 15th digit (that shifted every
    # CLAHE tile and once turned an abduction angle by 65°).
    work_shape = [int(math.floor(e / WORK_MM + 1e-6)) for e in extent]
    if min(work_shape) < 64:
        raise InputError(f"The image covers only {extent[0]:.0f}×{extent[1]:.0f} mm; an AP pelvis film is far larger "
                         "(check the pixel spacing).")
    along_rows = averaging_interpolation_matrix(rows, spacing_mm[0], work_shape[0])
    along_columns = averaging_interpolation_matrix(columns, spacing_mm[1], work_shape[1])
    rows_done = along_rows @ pixels.astype(np.float32)
    work = np.asarray((along_columns @ rows_done.T).T, dtype=np.float32)
    if not mirrored_too:
        return work
    return work, np.asarray((along_columns @ rows_done[:, ::-1].T).T, dtype=np.float32)


def discard_lowest_and_normalise(work: np.ndarray) -> np.ndarray:
    """Step 3: intensities below the 2nd percentile become 0, the maximum 1."""
    low, high = np.percentile(work, LOW_PERCENTILE), float(work.max())
    if high - low <= 1e-6:
        raise InputError("The image is blank (no intensity range above its lowest 2 %).")
    return np.clip((work - low) / (high - low), 0.0, 1.0).astype(np.float32)


def equalise(normalised: np.ndarray) -> np.ndarray:
    """Step 4: CLAHE over an 8×8 grid of tiles."""
    from skimage.exposure import equalize_adapthist

    kernel = (max(8, normalised.shape[0] // CLAHE_TILES), max(8, normalised.shape[1] // CLAHE_TILES))
    return equalize_adapthist(normalised, kernel_size=kernel, clip_limit=CLAHE_CLIP_OPENCV / CLAHE_BINS,
                              nbins=CLAHE_BINS).astype(np.float32)


def normalise_and_equalise(work: np.ndarray) -> np.ndarray:
    """Steps 3–4."""
    return equalise(discard_lowest_and_normalise(work))


def to_detector_input(work: np.ndarray) -> tuple[np.ndarray, tuple[int, int], int]:
    """Step 5: centre in a square of zeros and resize (area-averaging) to 512×512."""
    import torch
    import torch.nn.functional as F

    size = max(work.shape)
    pad = ((size - work.shape[0]) // 2, (size - work.shape[1]) // 2)
    square = np.zeros((size, size), dtype=np.float32)
    square[pad[0]: pad[0] + work.shape[0], pad[1]: pad[1] + work.shape[1]] = work
    tensor = torch.from_numpy(square)[None, None]
    resized = F.interpolate(tensor, size=(DETECTOR_SIZE, DETECTOR_SIZE), mode="area" if size > DETECTOR_SIZE else "bilinear")
    return resized[0, 0].numpy(), pad, size


def stable_spacing(spacing_mm) -> tuple[float, float]:
    """Spacing rounded to 9 significant digits: what a header's last digits or a unit conversion
    change must not change the result."""
    return tuple(float(f"{float(s):.9g}") for s in spacing_mm)


def _checked(pixels: np.ndarray) -> np.ndarray:
    pixels = np.asarray(pixels, dtype=np.float32)
    if pixels.ndim != 2:
        raise InputError(f"Expected a 2-D radiograph, got an array of shape {pixels.shape}.")
    if not np.all(np.isfinite(pixels)):
        raise InputError("The radiograph has non-finite pixel values.")
    return pixels


def _prepared(work: np.ndarray, spacing_mm, shape) -> HipPreprocessed:
    work = normalise_and_equalise(work)
    detector_input, pad, size = to_detector_input(work)
    return HipPreprocessed(work, detector_input, tuple(spacing_mm), shape, pad, size)


def preprocess_radiograph(pixels: np.ndarray, spacing_mm: tuple[float, float]) -> HipPreprocessed:
    pixels, spacing_mm = _checked(pixels), stable_spacing(spacing_mm)
    return _prepared(resample_to_work(pixels, spacing_mm), spacing_mm, pixels.shape)


def preprocess_both_views(pixels: np.ndarray, spacing_mm: tuple[float, float]) -> tuple[HipPreprocessed, HipPreprocessed]:
    """The film as it is and mirrored (columns reversed), each exactly as :func:`preprocess_radiograph`
    prepares it, for less than twice the work (the film is checked and resampled along its rows once)."""
    pixels, spacing_mm = _checked(pixels), stable_spacing(spacing_mm)
    works = resample_to_work(pixels, spacing_mm, mirrored_too=True)
    return tuple(_prepared(work, spacing_mm, pixels.shape) for work in works)
