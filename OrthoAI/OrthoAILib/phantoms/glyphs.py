"""A 5×7 bitmap font for burned-in text on synthetic films (markers, dates, labels)."""

from __future__ import annotations

import numpy as np

_FONT = {
    "0": ["01110", "10001", "10011", "10101", "11001", "10001", "01110"],
    "1": ["00100", "01100", "00100", "00100", "00100", "00100", "01110"],
    "2": ["01110", "10001", "00001", "00010", "00100", "01000", "11111"],
    "3": ["11110", "00001", "00001", "01110", "00001", "00001", "11110"],
    "4": ["00010", "00110", "01010", "10010", "11111", "00010", "00010"],
    "5": ["11111", "10000", "11110", "00001", "00001", "10001", "01110"],
    "6": ["00110", "01000", "10000", "11110", "10001", "10001", "01110"],
    "7": ["11111", "00001", "00010", "00100", "01000", "01000", "01000"],
    "8": ["01110", "10001", "10001", "01110", "10001", "10001", "01110"],
    "9": ["01110", "10001", "10001", "01111", "00001", "00010", "01100"],
    "A": ["01110", "10001", "10001", "11111", "10001", "10001", "10001"],
    "H": ["10001", "10001", "10001", "11111", "10001", "10001", "10001"],
    "L": ["10000", "10000", "10000", "10000", "10000", "10000", "11111"],
    "P": ["11110", "10001", "10001", "11110", "10000", "10000", "10000"],
    "R": ["11110", "10001", "10001", "11110", "10100", "10010", "10001"],
    "T": ["11111", "00100", "00100", "00100", "00100", "00100", "00100"],
    "-": ["00000", "00000", "00000", "11111", "00000", "00000", "00000"],
    ".": ["00000", "00000", "00000", "00000", "00000", "01100", "01100"],
    ":": ["00000", "01100", "01100", "00000", "01100", "01100", "00000"],
    " ": ["00000"] * 7,
}
TEXT_CHARACTERS = "".join(sorted(_FONT))


def text_bitmap(text: str) -> np.ndarray:
    """Boolean bitmap (7 rows, 6 columns per character) of ``text``."""
    columns = []
    for character in text.upper():
        glyph = _FONT.get(character, _FONT[" "])
        columns.append(np.array([[bit == "1" for bit in row] + [False] for row in glyph]))
    return np.concatenate(columns, axis=1) if columns else np.zeros((7, 0), dtype=bool)


def stamp_text(image: np.ndarray, text: str, top_left_rc: tuple[int, int], pixel_size: int, value: float) -> None:
    """Burn ``text`` into ``image`` (in place), each font pixel ``pixel_size`` image pixels wide."""
    bitmap = np.kron(text_bitmap(text), np.ones((pixel_size, pixel_size), dtype=bool))
    r0, c0 = top_left_rc
    r1, c1 = min(r0 + bitmap.shape[0], image.shape[0]), min(c0 + bitmap.shape[1], image.shape[1])
    if r1 > r0 and c1 > c0:
        image[r0:r1, c0:c1][bitmap[: r1 - r0, : c1 - c0]] = value
