"""Exporting a network as a shipped TorchScript file, with reference outputs beside it.

A shipped model must load and compute the same in the oldest torch OrthoAI supports (Slicer 5.8's
Python 3.9 stops at torch 2.8; ``make compat`` checks torch 2.2), not only in the torch that exported
it. A file cannot show that by itself, so every export also writes ``<stem>.reference.npz``: fixed
inputs and the outputs that the saved file gives for each method the pipelines call, in the
exporting torch. ``Testing/compat/check_models.py`` replays them in another torch.

Reference file layout: ``<method>.input.<i>`` and ``<method>.output.<i>`` arrays (outputs that are
tuples or lists are numbered in order); ``forward`` stands for calling the module itself.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from .checksum import sha256_file

REFERENCE_SUFFIX = ".reference.npz"


def reference_path(model_path: str | Path) -> Path:
    """Where the reference inputs and outputs of ``model_path`` are stored."""
    model_path = Path(model_path)
    return model_path.with_name(model_path.stem + REFERENCE_SUFFIX)


def flatten_outputs(output: Any) -> list[Any]:
    """A method's result as a list of tensors (a tuple or list of tensors, or one tensor)."""
    return list(output) if isinstance(output, (tuple, list)) else [output]


def run_method(module, method: str, inputs: Sequence[Any]) -> list[Any]:
    import torch

    call = module if method == "forward" else getattr(module, method)
    with torch.no_grad():
        return flatten_outputs(call(*inputs))


def write_reference(model_path: str | Path, methods: Mapping[str, Sequence[Any]], *, atol: float,
                    rtol: float = 0.0) -> dict[str, Any]:
    """Run the saved file at ``model_path`` on ``methods`` (method name -> the tensors the pipeline
    passes it) and store inputs and outputs beside it. Returns the registry's ``reference`` field."""
    import torch

    model_path = Path(model_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        module = torch.jit.load(str(model_path), map_location="cpu")  # the file as saved, never a cached load
    module.eval()
    arrays: dict[str, np.ndarray] = {}
    for method, inputs in methods.items():
        for index, tensor in enumerate(inputs):
            arrays[f"{method}.input.{index}"] = tensor.detach().cpu().numpy()
        for index, tensor in enumerate(run_method(module, method, inputs)):
            arrays[f"{method}.output.{index}"] = tensor.detach().cpu().numpy()
    path = reference_path(model_path)
    np.savez_compressed(path, **arrays)
    return {"file": path.name, "sha256": sha256_file(path), "methods": list(methods), "atol": atol, "rtol": rtol,
            "torch": torch.__version__.split("+")[0]}


def export_torchscript(net, path: str | Path, methods: Mapping[str, Sequence[Any]], *, atol: float,
                       rtol: float = 0.0) -> dict[str, Any]:
    """Script ``net`` (on the CPU, in eval mode), save it at ``path`` and write its reference file.

    ``methods`` maps each method the pipeline calls (``"forward"`` for ``module(x)``) to example
    inputs: real ones, such as a preprocessed phantom, so the reference shows what users get.
    ``atol``/``rtol`` are the differences another torch may show (``|got - ref| <= atol + rtol·|ref|``).
    The saved file must agree with ``net`` itself within them. Returns the registry fields that
    describe the files: ``sha256``, ``size_bytes``, ``framework`` and ``reference``.
    """
    import torch

    path = Path(path)
    net = net.cpu().eval()
    with warnings.catch_warnings():
        # TorchScript stays the shipped format (see runtime/torchscript.py); recent torch marks it deprecated.
        warnings.simplefilter("ignore", DeprecationWarning)
        scripted = torch.jit.script(net)
    path.parent.mkdir(parents=True, exist_ok=True)
    scripted.save(str(path))
    reference = write_reference(path, methods, atol=atol, rtol=rtol)
    stored = np.load(reference_path(path))
    for method, inputs in methods.items():
        for index, expected in enumerate(run_method(net, method, inputs)):
            got, expected = stored[f"{method}.output.{index}"], expected.detach().cpu().numpy()
            if got.shape != expected.shape or not np.allclose(got, expected, atol=atol, rtol=rtol):
                difference = float(np.max(np.abs(got - expected))) if got.shape == expected.shape else float("inf")
                raise RuntimeError(f"{path.name}: the scripted {method} output {index} differs from the network's "
                                   f"by {difference:.3g} (tolerance {atol} + {rtol}·|ref|).")
    return {"sha256": sha256_file(path), "size_bytes": path.stat().st_size, "framework": "torchscript",
            "reference": reference}
