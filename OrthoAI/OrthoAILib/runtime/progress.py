"""Progress reporting and cancellation shared by every long-running call.

A long call takes ``progress(fraction, message)`` and a :class:`CancelToken`.
The GUI cancels from its thread; the worker checks the token between steps
and raises :class:`~OrthoAILib.errors.Cancelled`, before anything is written.
"""

from __future__ import annotations

import threading
from typing import Callable, Optional

from ..errors import Cancelled

ProgressCallback = Callable[[float, str], None]


class CancelToken:
    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self, what: str = "The operation") -> None:
        if self._event.is_set():
            raise Cancelled(f"{what} was cancelled; nothing was changed.")


def report(progress: Optional[ProgressCallback], fraction: float, message: str = "") -> None:
    if progress is not None:
        progress(min(1.0, max(0.0, fraction)), message)


def scaled(progress: Optional[ProgressCallback], start: float, end: float) -> Optional[ProgressCallback]:
    """A callback for one part of a longer task: its 0-1 maps onto ``start``-``end`` of ``progress``."""
    if progress is None:
        return None
    return lambda fraction, message="": report(progress, start + (end - start) * fraction, message)
