#!/usr/bin/env python3
"""Check every registry model against its stored reference outputs, in whatever torch runs this.

Runs with torch and numpy alone (no OrthoAILib: the environment may hold only an old torch), so
``make compat`` can run it in a separate environment with the oldest torch OrthoAI supports. For
each entry of ``Models.json``: the model file and its reference file must match their sha256,
``torch.jit.load`` must succeed, and each stored method's outputs on the stored inputs must agree
with the reference (``|got - ref| <= atol + rtol·|ref|``). Prints one JSON summary; exits 1 when
any model fails, naming it and its largest difference on standard error.

Usage: ``python Testing/compat/check_models.py [path/to/Models.json]``
"""

from __future__ import annotations

import hashlib
import json
import sys
import warnings
from pathlib import Path

import numpy as np
import torch

DEFAULT_REGISTRY = Path(__file__).resolve().parent.parent.parent / "Resources" / "Models" / "Models.json"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def stored_arrays(arrays, method: str, kind: str) -> list[np.ndarray]:
    """``<method>.<kind>.0``, ``.1``, … in order."""
    found = []
    while f"{method}.{kind}.{len(found)}" in arrays:
        found.append(arrays[f"{method}.{kind}.{len(found)}"])
    return found


def run(module, method: str, inputs: list[np.ndarray]) -> list[np.ndarray]:
    call = module if method == "forward" else getattr(module, method)
    with torch.no_grad():
        output = call(*[torch.from_numpy(np.ascontiguousarray(array)) for array in inputs])
    outputs = list(output) if isinstance(output, (tuple, list)) else [output]
    return [tensor.cpu().numpy() for tensor in outputs]


def check_method(module, arrays, method: str, atol: float, rtol: float) -> dict:
    inputs, expected = stored_arrays(arrays, method, "input"), stored_arrays(arrays, method, "output")
    if not expected:
        return {"ok": False, "error": f"the reference file has no outputs of '{method}'"}
    got = run(module, method, inputs)
    if len(got) != len(expected):
        return {"ok": False, "error": f"'{method}' gave {len(got)} outputs, the reference has {len(expected)}"}
    worst, ok = 0.0, True
    for index, (value, reference) in enumerate(zip(got, expected)):
        if value.shape != reference.shape:
            return {"ok": False, "error": f"'{method}' output {index} has shape {list(value.shape)}, "
                                          f"the reference {list(reference.shape)}"}
        difference = np.abs(value.astype(np.float64) - reference.astype(np.float64))
        worst = max(worst, float(difference.max()) if difference.size else 0.0)
        ok = ok and bool(np.all(difference <= atol + rtol * np.abs(reference.astype(np.float64))))
    return {"ok": ok, "max_abs_diff": worst, "atol": atol, "rtol": rtol}


def check_model(entry: dict, directory: Path) -> dict:
    result = {"id": entry.get("id"), "file": entry.get("file"), "ok": False}
    reference = entry.get("reference")
    if not isinstance(reference, dict):
        result["error"] = "the registry entry has no reference outputs"
        return result
    model_path, reference_path = directory / entry["file"], directory / reference["file"]
    for path, expected in ((model_path, entry["sha256"]), (reference_path, reference["sha256"])):
        if not path.is_file():
            result["error"] = f"{path.name} is missing"
            return result
        if sha256_file(path) != expected:
            result["error"] = f"{path.name} does not match its sha256 in the registry"
            return result
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # torch.jit is marked deprecated in recent torch
            module = torch.jit.load(str(model_path), map_location="cpu")
        module.eval()
        arrays = np.load(reference_path)
        methods = reference.get("methods") or sorted({key.split(".")[0] for key in arrays.files})
        result["methods"] = {method: check_method(module, arrays, method, float(reference["atol"]),
                                                  float(reference.get("rtol", 0.0))) for method in methods}
    except Exception as error:  # a model that cannot load or run is this check's finding, not its crash
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        result["error"] = f"{type(error).__name__}: {' '.join(lines[:2])[:400]}"
        return result
    failed = {m: r for m, r in result["methods"].items() if not r["ok"]}
    result["ok"] = not failed
    if failed:
        result["error"] = "; ".join(r.get("error") or f"'{m}' differs from the reference by {r['max_abs_diff']:.3g} "
                                    f"(tolerance {r['atol']:g} + {r['rtol']:g}·|ref|)" for m, r in failed.items())
    return result


def check_registry(registry: Path) -> dict:
    document = json.loads(registry.read_text(encoding="utf-8"))
    models = [check_model(entry, registry.parent) for entry in document.get("models", [])]
    return {"torch": torch.__version__, "numpy": np.__version__, "python": sys.version.split()[0],
            "registry": str(registry), "ok": bool(models) and all(m["ok"] for m in models), "models": models}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    summary = check_registry(Path(argv[0]) if argv else DEFAULT_REGISTRY)
    print(json.dumps(summary, indent=2))
    for model in summary["models"]:
        if not model["ok"]:
            print(f"FAILED in torch {summary['torch']}: {model['id']} ({model['file']}): {model['error']}", file=sys.stderr)
    if not summary["models"]:
        print(f"FAILED: {summary['registry']} lists no models", file=sys.stderr)
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
