"""Band-limited random fields and resampling, cheaply, with numpy alone.

A random field is drawn on a coarse grid whose cells are a whole number of
pixels of about a given size in millimetres, and interpolated bilinearly to the
film's pixels: a few passes over the film, no gathers. Ridged noise (1 − |n|, squared) has thin bright ridges along the
zero crossings of a smooth field: a network like trabecular bone.
"""

from __future__ import annotations

import numpy as np


def _axis_weights(count: int, scale: float, offset: float, limit: int):
    """Coarse indices and weights for fine samples 0..count-1 at coarse positions i·scale + offset."""
    position = np.arange(count, dtype=np.float64) * scale + offset
    position = np.clip(position, 0.0, limit - 1.0)
    low = np.minimum(np.floor(position).astype(np.intp), limit - 2) if limit > 1 else np.zeros(count, np.intp)
    weight = (position - low).astype(np.float32) if limit > 1 else np.zeros(count, np.float32)
    return low, np.minimum(low + 1, limit - 1), weight


def resample_bilinear(coarse: np.ndarray, shape: tuple[int, int], scale: tuple[float, float],
                      offset: tuple[float, float]) -> np.ndarray:
    """``out[r, c] = coarse`` interpolated at (r·scale[0] + offset[0], c·scale[1] + offset[1]); edges clamp."""
    coarse = np.asarray(coarse, dtype=np.float32)
    r0, r1, wr = _axis_weights(shape[0], scale[0], offset[0], coarse.shape[0])
    c0, c1, wc = _axis_weights(shape[1], scale[1], offset[1], coarse.shape[1])
    rows = coarse[:, c0]
    rows += (coarse[:, c1] - rows) * wc[None, :]
    out = rows[r0]
    out += (rows[r1] - out) * wr[:, None]
    return out


def _upsample_rows(coarse: np.ndarray, rows: int, factor: int) -> np.ndarray:
    """Bilinear along axis 0 by an integer factor, written phase by phase (no gathers of the full output)."""
    count = coarse.shape[0]
    previous = np.concatenate([coarse[:1], coarse[:-1]])
    following = np.concatenate([coarse[1:], coarse[-1:]])
    out = np.empty((count, factor) + coarse.shape[1:], dtype=np.float32)
    for phase in range(factor):
        offset = (phase + 0.5) / factor - 0.5  # this phase's position relative to its coarse sample
        other = previous if offset < 0 else following
        weight = np.float32(abs(offset))
        np.multiply(coarse, np.float32(1.0) - weight, out=out[:, phase])
        out[:, phase] += other * weight
    return out.reshape((count * factor,) + coarse.shape[1:])[:rows]


def upsample(coarse: np.ndarray, shape: tuple[int, int], factor) -> np.ndarray:
    """Back to the fine grid from a grid ``factor`` times coarser, aligned as :meth:`Canvas.coarse` aligns it."""
    coarse = np.asarray(coarse, dtype=np.float32)
    if float(factor).is_integer() and coarse.shape[0] * factor >= shape[0] and coarse.shape[1] * factor >= shape[1]:
        factor = int(factor)
        if factor == 1:
            return coarse[:shape[0], :shape[1]].copy()
        columns = _upsample_rows(np.ascontiguousarray(coarse.T), shape[1], factor).T
        return _upsample_rows(np.ascontiguousarray(columns), shape[0], factor)
    offset = 0.5 / factor - 0.5
    return resample_bilinear(coarse, shape, (1.0 / factor, 1.0 / factor), (offset, offset))


def noise_field(rng: np.random.Generator, shape: tuple[int, int], spacing_mm: float, cell_mm: tuple[float, float]
                ) -> np.ndarray:
    """Smooth zero-mean noise of about unit variance with cells of about ``cell_mm`` (rows, columns).

    Cells are a whole number of pixels (the upsampling is then a few passes over the film).
    """
    cells = [max(1, int(round(c / spacing_mm))) for c in cell_mm]
    grid = (-(-shape[0] // cells[0]) + 1, -(-shape[1] // cells[1]) + 1)
    coarse = rng.standard_normal(grid, dtype=np.float32) * np.float32(1.6)  # bilinear halves the variance
    if cells[0] == cells[1]:
        return upsample(coarse, shape, cells[0])
    columns = _upsample_rows(np.ascontiguousarray(coarse.T), shape[1], cells[1]).T
    return _upsample_rows(np.ascontiguousarray(columns), shape[0], cells[0])


def ridged(field: np.ndarray) -> np.ndarray:
    """Thin ridges along the zero crossings of a smooth field, in [0, 1], mean ≈ 0.3."""
    ridge = 1.0 - np.minimum(np.abs(field), 1.0)
    return ridge * ridge


def block_mean(image: np.ndarray, factor: int) -> np.ndarray:
    """Means over factor × factor blocks; the last partial row and column of blocks are left out
    (:func:`upsample` clamps at the edges, so a low-pass keeps its size)."""
    if factor <= 1:
        return image.astype(np.float32, copy=True)
    rows, columns = image.shape[0] // factor * factor, image.shape[1] // factor * factor
    if rows == 0 or columns == 0:
        return np.full((1, 1), image.mean(), dtype=np.float32)
    # sums of strided slices (whole rows first), much faster than a mean over reshaped axes
    total = image[0:rows:factor, :columns].astype(np.float32)
    for phase in range(1, factor):
        total += image[phase:rows:factor, :columns]
    out = total[:, 0::factor].copy()
    for phase in range(1, factor):
        out += total[:, phase::factor]
    out *= np.float32(1.0 / (factor * factor))
    return out


def gaussian_blur(image: np.ndarray, sigma_px: float) -> np.ndarray:
    """Separable Gaussian of a few pixels, edges repeated, as shifted sums (no padded copies)."""
    source = image.astype(np.float32, copy=True)
    radius = min(int(np.ceil(3.0 * sigma_px)), max(min(image.shape) - 1, 0))
    if sigma_px <= 0.05 or radius < 1:
        return source
    taps = np.exp(-0.5 * (np.arange(0, radius + 1) / sigma_px) ** 2)
    taps = (taps / (taps[0] + 2 * taps[1:].sum())).astype(np.float32)
    # along rows (axis 0), then along columns (axis 1): slices of whole rows, no transposes
    blurred = source * taps[0]
    for offset in range(1, radius + 1):
        tap = taps[offset]
        blurred[offset:] += tap * source[:-offset]
        blurred[:offset] += tap * source[:1]
        blurred[:-offset] += tap * source[offset:]
        blurred[-offset:] += tap * source[-1:]
    source = blurred
    blurred = source * taps[0]
    for offset in range(1, radius + 1):
        tap = taps[offset]
        blurred[:, offset:] += tap * source[:, :-offset]
        blurred[:, :offset] += tap * source[:, :1]
        blurred[:, :-offset] += tap * source[:, offset:]
        blurred[:, -offset:] += tap * source[:, -1:]
    return blurred


def lowpass(image: np.ndarray, spacing_mm: float, sigma_mm: float) -> np.ndarray:
    """A wide Gaussian (millimetres) computed on a coarser grid and interpolated back: cost independent of width."""
    sigma_px = sigma_mm / spacing_mm
    factor = max(1, int(sigma_px / 1.2))  # a blur of about a pixel on the coarse grid
    coarse = gaussian_blur(block_mean(image, factor), sigma_px / factor)
    return upsample(coarse, image.shape, factor) if factor > 1 else coarse
