"""From attenuation to a stored film: exposure, detector, a vendor's processing, bits.

The chain follows a digital radiograph. Transmission ``exp(-attenuation)``
plus scatter (a wide blur of it), the anode heel and anti-scatter grid lines,
is blurred by the detector and counted with quantum noise (photons per pixel
grow with the pixel's area, so coarser films are less noisy, as when a fine film
is averaged down) and electronic noise; the detector saturates where
over-exposed, and metal (almost no photons) sinks into the electronic floor.
The log signal is then auto-ranged on its histogram and processed the way
vendors do: dynamic range compression (subtracting a wide low-pass), edge
enhancement (unsharp masking, which rings dark around metal when strong) and a
tone curve (LUT). Dense stays bright (MONOCHROME2) and metal brightest.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .glyphs import stamp_text
from .textures import gaussian_blur, lowpass

# Ranges of each processing look: (dynamic range compression, edge enhancement, its kernel mm, tone curve)
VENDOR_LOOKS: dict[str, dict] = {
    "plain": {"compression": (0.0, 0.15), "enhance": (0.0, 0.3), "kernel_mm": (1.0, 3.0), "curve": "linear"},
    "equalised": {"compression": (0.4, 0.7), "enhance": (0.2, 0.6), "kernel_mm": (1.5, 4.0), "curve": "sigmoid"},
    "sharp": {"compression": (0.1, 0.4), "enhance": (0.8, 2.0), "kernel_mm": (0.6, 1.6), "curve": "sigmoid"},
    "soft": {"compression": (0.0, 0.3), "enhance": (0.0, 0.2), "kernel_mm": (2.0, 4.0), "curve": "gamma"},
    "contrast": {"compression": (0.2, 0.5), "enhance": (0.3, 0.9), "kernel_mm": (1.0, 2.5), "curve": "steep"},
}
EXPOSURES = ("normal", "under", "over")
PHOTONS_PER_MM2 = 2.0e6  # reaching the detector unattenuated at a normal dose: sets the quantum noise


@dataclass(frozen=True)
class Collimation:
    margins_mm: tuple[float, float, float, float]  # top, bottom, left, right
    rotation_deg: float
    shutter: str  # how the processing shows the area outside the field: "none", "white", "black"

    def outside(self, shape: tuple[int, int], spacing: float) -> np.ndarray:
        rows, columns = shape
        if not self.rotation_deg:
            top, bottom, left, right = (int(round(m / spacing)) for m in self.margins_mm)
            outside = np.ones(shape, dtype=bool)
            outside[top: rows - bottom, left: columns - right] = False
            return outside
        r = (np.arange(rows, dtype=np.float32) + 0.5) * spacing
        c = (np.arange(columns, dtype=np.float32) + 0.5) * spacing
        centre_r, centre_c = rows * spacing / 2, columns * spacing / 2
        angle = math.radians(self.rotation_deg)
        cos, sin = math.cos(angle), math.sin(angle)
        dr, dc = r[:, None] - centre_r, c[None, :] - centre_c
        rr, cc = dr * cos - dc * sin, dr * sin + dc * cos  # blades turned about the film's centre
        top, bottom, left, right = self.margins_mm
        return ((rr < top - centre_r) | (rr > centre_r - bottom) | (cc < left - centre_c) | (cc > centre_c - right))


def draw_collimation(rng: np.random.Generator, probability: float = 0.7, max_margin_mm: float = 25.0) -> Collimation:
    margins = tuple(float(m) for m in rng.uniform(0, max_margin_mm, size=4)) if rng.random() < probability else (0.0,) * 4
    rotation = float(rng.uniform(-3, 3)) if rng.random() < 0.3 else 0.0
    shutter = str(rng.choice(["none", "white", "black"], p=[0.5, 0.3, 0.2]))
    return Collimation(margins, rotation, shutter)


def detector_blur(image: np.ndarray, sigma_px: float) -> np.ndarray:
    """The detector's blur: below a pixel, a 3-tap kernel of the same variance (cheap); wider, a Gaussian."""
    if sigma_px >= 0.8:
        return gaussian_blur(image, sigma_px)
    side = np.float32(min(sigma_px * sigma_px / 2.0, 1.0 / 3.0))
    centre = np.float32(1.0) - 2 * side
    out = image * centre
    out[1:] += side * image[:-1]
    out[:1] += side * image[:1]
    out[:-1] += side * image[1:]
    out[-1:] += side * image[-1:]
    blurred = out * centre
    blurred[:, 1:] += side * out[:, :-1]
    blurred[:, :1] += side * out[:, :1]
    blurred[:, :-1] += side * out[:, 1:]
    blurred[:, -1:] += side * out[:, -1:]
    return blurred


def unit_noise(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Zero-mean, unit-variance noise, cheaply: the sum of two uniform bytes (a triangular distribution)
    draws five times faster than Gaussian samples and looks the same once it is photon noise on a film."""
    total = rng.integers(0, 256, size=shape, dtype=np.uint8).astype(np.float32)
    total += rng.integers(0, 256, size=shape, dtype=np.uint8)
    total -= np.float32(255.0)
    total *= np.float32(1.0 / 104.5)  # two uniform bytes: variance 2 × (256² − 1) / 12
    return total


def _tone_curve(values: np.ndarray, curve: str, rng: np.random.Generator) -> np.ndarray:
    if curve == "linear":
        return values
    if curve == "gamma":
        return np.power(np.clip(values, 0.0, None), np.float32(rng.uniform(0.7, 1.4)))
    gain = rng.uniform(4.0, 7.0) if curve == "sigmoid" else rng.uniform(7.0, 11.0)
    middle = rng.uniform(0.4, 0.6)
    low, high = 1 / (1 + math.exp(gain * middle)), 1 / (1 + math.exp(-gain * (1 - middle)))
    return (1.0 / (1.0 + np.exp(-gain * (values - middle))) - low) / (high - low)


def develop(attenuation: np.ndarray, rng: np.random.Generator, spacing: float, native_spacing: float,
            collimation: Collimation, texts: tuple[str, ...] = ()) -> tuple[np.ndarray, int, dict]:
    """Film pixels (uint16, MONOCHROME2), bits stored, and what was drawn (look, exposure).

    ``attenuation``: line integrals per pixel (modified in place). Every draw from
    ``rng`` is made in a fixed number, whatever the film's size; per-pixel noise
    comes from a generator seeded from it.
    """
    pixel_rng = np.random.default_rng(int(rng.integers(2 ** 63)))
    look = str(rng.choice(list(VENDOR_LOOKS)))
    exposure = str(rng.choice(EXPOSURES, p=[0.7, 0.15, 0.15]))
    dose = {"normal": rng.uniform(0.6, 1.6), "under": rng.uniform(0.1, 0.3), "over": rng.uniform(3.0, 8.0)}[exposure]
    scatter_fraction, scatter_mm = rng.uniform(0.03, 0.15), rng.uniform(15, 40)  # behind an anti-scatter grid
    heel = rng.uniform(-0.12, 0.12)
    grid_period, grid_depth = rng.uniform(1.5, 4.0), rng.uniform(0.0, 0.03)
    blur_mm = rng.uniform(0.1, 0.3)
    electronic = rng.uniform(2.0, 8.0)  # photons' worth of read-out noise
    saturation = rng.uniform(0.25, 0.6) if exposure == "over" else rng.uniform(0.8, 1.0)
    window = (rng.uniform(0.2, 2.0), rng.uniform(99.0, 99.9))  # histogram percentiles mapped to black and white
    latitude = rng.uniform(1.2, 2.2)  # the narrowest window (log units): a flat field is not stretched into pure noise
    brightness, contrast = rng.uniform(-0.08, 0.08), rng.uniform(0.85, 1.2)
    params = VENDOR_LOOKS[look]
    compression, compression_mm = rng.uniform(*params["compression"]), rng.uniform(10, 35)
    enhance, kernel_mm = rng.uniform(*params["enhance"]), rng.uniform(*params["kernel_mm"])
    curve_rng = np.random.default_rng(int(rng.integers(2 ** 63)))

    rows, columns = attenuation.shape
    outside = collimation.outside(attenuation.shape, spacing)
    np.maximum(attenuation, 0.0, out=attenuation)
    transmission = np.exp(-attenuation)
    transmission[outside] *= 0.02  # the blades stop the primary beam; scatter still arrives
    scatter = lowpass(transmission, spacing, scatter_mm)
    transmission *= np.float32(1.0 - scatter_fraction)
    scatter *= np.float32(scatter_fraction)
    transmission += scatter
    transmission *= (1.0 + heel * np.linspace(-1.0, 1.0, rows, dtype=np.float32))[:, None]  # anode heel
    grid = 1.0 - grid_depth * (0.5 + 0.5 * np.cos(2 * np.pi * np.arange(columns) * spacing / grid_period))
    transmission *= grid.astype(np.float32)[None, :]  # lines of the anti-scatter grid
    counts = detector_blur(transmission, blur_mm / spacing)
    photons = PHOTONS_PER_MM2 * dose * spacing * spacing
    counts *= np.float32(photons)
    noise = unit_noise(pixel_rng, counts.shape)
    noise *= np.sqrt(counts + np.float32(electronic * electronic))
    counts += noise
    np.clip(counts, electronic, saturation * photons, out=counts)
    counts *= np.float32(1.0 / photons)
    signal = np.log(counts, out=counts)
    np.negative(signal, out=signal)

    # auto-ranging on the histogram of the exposed field, without metal (pixels at the electronic floor)
    sample = signal[::4, ::4][~outside[::4, ::4]] if (~outside).any() else signal[::4, ::4].ravel()
    floor = -math.log(electronic / photons)
    tissue = sample[sample < floor - 0.05]
    low, high = np.percentile(tissue if tissue.size > 100 else sample, window)
    if high - low < latitude:
        middle = (low + high) / 2
        low, high = middle - latitude / 2, middle + latitude / 2
    values = signal
    values -= np.float32(low)
    values *= np.float32(1.0 / max(high - low, 1e-3))
    if compression > 0:  # dynamic range compression: subtract part of a wide low-pass
        wide = lowpass(values, spacing, compression_mm)
        wide -= np.float32(0.5)
        wide *= np.float32(compression)
        values -= wide
    if enhance > 0:  # unsharp masking
        sharp = values - lowpass(values, spacing, kernel_mm)
        sharp *= np.float32(enhance)
        values += sharp
    values -= np.float32(0.5 + brightness)
    values *= np.float32(contrast)
    values += np.float32(0.5)
    values = _tone_curve(np.clip(values, 0.0, 1.0, out=values), params["curve"], curve_rng)
    if collimation.shutter != "none":
        values[outside] = 1.0 if collimation.shutter == "white" else 0.0
    margins = [int(m / spacing) for m in collimation.margins_mm]
    glyph = max(1, int(round(rng.uniform(0.8, 1.3) / spacing)))
    for line, text in enumerate(texts):  # burned in after processing, white
        stamp_text(values, text, (rows - margins[1] - int((20 + 12 * line) / spacing), margins[2] + int(10 / spacing)), glyph, 1.0)

    bit_depth = int(rng.choice([12, 14, 16]))
    np.clip(values, 0.0, 1.0, out=values)
    values *= np.float32(2 ** bit_depth - 1)
    values += np.float32(0.5)  # rounds on the cast below
    image = values.astype(np.uint16)
    return image, bit_depth, {"vendor_look": look, "exposure": exposure, "dose": float(dose),
                              "edge_enhancement": float(enhance), "range_compression": float(compression)}


def date_stamp(rng: np.random.Generator) -> str:
    return (f"{rng.integers(2015, 2026)}-{rng.integers(1, 13):02d}-{rng.integers(1, 29):02d} "
            f"{rng.integers(0, 24):02d}:{rng.integers(0, 60):02d}")


def stamp_marker(attenuation: np.ndarray, rng: np.random.Generator, spacing: float, collimation: Collimation,
                 value: float) -> str:
    """A lead side marker on the cassette (it is exposed with the film: as dense as metal)."""
    marker = "R" if rng.random() < 0.5 else "L"
    glyph = max(1, int(round(rng.uniform(1.6, 2.6) / spacing)))
    top, _, left, _ = collimation.margins_mm
    stamp_text(attenuation, marker, (int((top + 10) / spacing), int((left + 10) / spacing)), glyph, value)
    return marker
