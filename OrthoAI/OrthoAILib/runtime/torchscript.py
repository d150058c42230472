"""Loading registry models as TorchScript, once per file and device."""

from __future__ import annotations

import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from ..errors import ModelError
from .registry import ModelEntry
from .store import ModelStore

_cache: dict[tuple[str, float, str], Any] = {}
_lock = threading.Lock()


@dataclass(frozen=True)
class LoadedModel:
    entry: ModelEntry
    module: Any  # torch.jit.ScriptModule, in eval mode
    device: Any  # torch.device
    path: Path


def load_torchscript_file(path: str | Path, device) -> Any:
    """A TorchScript module from ``path`` on ``device``; reuses an earlier load of the same file."""
    import torch

    path = Path(path)
    key = (str(path.resolve()), path.stat().st_mtime, str(device))
    with _lock:
        if key not in _cache:
            try:
                with warnings.catch_warnings():
                    # TorchScript is the format Slicer extensions share (and the registry's);
                    # recent torch marks torch.jit as deprecated in favour of torch.export.
                    warnings.simplefilter("ignore", DeprecationWarning)
                    module = torch.jit.load(str(path), map_location=device)
            except RuntimeError as error:
                raise ModelError(f"{path} is not a loadable TorchScript file: {str(error).splitlines()[0]}") from None
            module.eval()
            _cache[key] = module
        return _cache[key]


def load_model(model_id: str, store: Optional[ModelStore] = None, device=None, **locate_options) -> LoadedModel:
    from .device import select_device

    store = store or ModelStore()
    entry = store.registry.get(model_id)
    path = store.locate(model_id, **locate_options)
    device = device if device is not None else select_device()
    return LoadedModel(entry, load_torchscript_file(path, device), device, path)
