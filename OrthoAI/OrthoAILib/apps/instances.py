"""One pipeline per process and option set: a pipeline's models load once, not once per case."""

from __future__ import annotations

import threading
from typing import Callable, TypeVar

T = TypeVar("T")
_instances: dict = {}
_lock = threading.Lock()  # the inference server asks from several threads: load once, not once each


def one_per_process(factory: Callable[..., T], **options) -> T:
    """``factory(**options)``, made the first time these options are asked for and kept for the
    process (a device is keyed by its name)."""
    key = (factory, tuple(sorted((name, str(value)) for name, value in options.items())))
    with _lock:
        if key not in _instances:
            _instances[key] = factory(**options)
        return _instances[key]
