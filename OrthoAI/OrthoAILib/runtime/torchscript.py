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


def load_error_summary(error: BaseException, max_lines: int = 3, max_chars: int = 500) -> str:
    """The message of a failed ``torch.jit.load``, without the source excerpt that follows it.

    TorchScript errors start with a blank line, then the message, then ``:`` and the serialized
    code around the failure; the message is what tells a user what went wrong.
    """
    lines: list[str] = []
    for line in str(error).splitlines():
        line = line.strip()
        if line == ":" or line.startswith("File \""):  # the source excerpt begins
            break
        if line:
            lines.append(line)
        if len(lines) == max_lines:
            break
    text = " ".join(lines) or type(error).__name__
    return text if len(text) <= max_chars else text[:max_chars - 1] + "…"


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
            except (RuntimeError, ValueError) as error:
                raise ModelError(
                    f"{path} is not a loadable TorchScript file for torch {torch.__version__}: {load_error_summary(error)} "
                    "A model exported by a newer torch may use operators this one lacks: update torch, or export "
                    "the model again with OrthoAILib.runtime.export.") from None
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


def frozen(module):
    """The module frozen for inference (batch norm folded into the convolutions, attributes inlined: about
    a fifth faster on the CPU, same outputs); unchanged where this torch cannot freeze it."""
    import torch

    try:
        return torch.jit.freeze(module.eval())
    except (RuntimeError, AttributeError):  # not a scripted module, or an op freezing does not handle
        return module
