#!/usr/bin/env python3
"""Re-export the shipped models with their own weights, and write every model's reference file.

The hip networks are scripted afresh from ``OrthoAILib.nets`` with the weights of the shipped
files (no training), so that the files use only operators the oldest supported torch has. The
reference inputs are real: the tensors the hip pipeline passes its networks for a held-out film,
and a patch of a held-out CT phantom for the bone model (whose file is kept: it loads everywhere).
The registry entries get new checksums and their ``reference`` field; everything else stays.

Usage: ``.venv/bin/python scripts/reexport-models.py [--models-dir Resources/Models]``
"""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path

import numpy as np
import torch

from OrthoAILib.nets.keypoint_refiner import KeypointRefiner
from OrthoAILib.nets.ssd512 import SSD512FPN
from OrthoAILib.phantoms.bone_ct import make_bone_phantom
from OrthoAILib.pipelines.hip.keypoint_pipeline import DETECTOR_ID, REFINER_ID, HipKeypointDetector
from OrthoAILib.pipelines.hip.training.reference_inputs import TOLERANCE, hip_reference_inputs
from OrthoAILib.runtime.export import export_torchscript, run_method, write_reference
from OrthoAILib.runtime.registry import ModelRegistry, write_registry_entry
from OrthoAILib.runtime.store import ModelStore

BONE_SEED = 1000  # the bone model's first held-out phantom
BONE_ID = "phantom-bone-seg-tiny"
# Differences another torch may show: convolution kernels differ between versions and CPUs.
# Detector: (row, column) in 512-pixel input pixels and a probability; refiner: (row, column) in
# 96-pixel crop pixels and a probability; bone model: logits.
TOLERANCES = {DETECTOR_ID: TOLERANCE, REFINER_ID: TOLERANCE, BONE_ID: 2e-3}


def hip_inputs(store: ModelStore) -> dict[str, dict[str, list[torch.Tensor]]]:
    """What the hip pipeline passes its shipped networks for the reference film, by model id and method."""
    shipped = HipKeypointDetector(store, torch.device("cpu"))
    inputs = hip_reference_inputs(shipped.detector_net, shipped.refiner_net, shipped.refinement_weights)
    return {DETECTOR_ID: inputs["detector"], REFINER_ID: inputs["refiner"]}


def bone_inputs() -> dict[str, list[torch.Tensor]]:
    """Two 32³ HU patches of a held-out phantom, as the sliding window passes them."""
    image = make_bone_phantom(BONE_SEED).image_hu
    patches = np.stack([image[:32, :32, :32], image[-32:, -32:, -32:]])[:, None]
    return {"forward": [torch.from_numpy(np.ascontiguousarray(patches, dtype=np.float32))]}


def fresh_net(model_id: str, shipped) -> torch.nn.Module:
    """A network from ``OrthoAILib.nets`` holding the shipped file's weights."""
    weights = shipped.state_dict()
    if model_id == DETECTOR_ID:
        net = SSD512FPN(int(shipped.num_classes), image_size=int(shipped.image_size))
    else:
        net = KeypointRefiner(int(weights["head.weight"].shape[0]))
    net.load_state_dict(weights)  # strict: every parameter and buffer, nothing else
    return net.eval()


def max_difference(before: list[torch.Tensor], after: list[torch.Tensor]) -> float:
    return max(float((a.double() - b.double()).abs().max()) for a, b in zip(before, after))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models-dir", type=Path, default=Path(__file__).resolve().parent.parent / "Resources" / "Models")
    args = parser.parse_args(argv)
    registry_path = args.models_dir / "Models.json"
    store = ModelStore(ModelRegistry.load(registry_path))
    # the entries as written (key order included), so that only the changed fields differ
    documents = {m["id"]: m for m in json.loads(registry_path.read_text(encoding="utf-8"))["models"]}
    inputs = hip_inputs(store)
    inputs[BONE_ID] = bone_inputs()
    summary = {}
    for model_id in (DETECTOR_ID, REFINER_ID, BONE_ID):
        entry = documents[model_id]
        path = args.models_dir / entry["file"]
        methods = inputs[model_id]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            shipped = torch.jit.load(str(path), map_location="cpu").eval()
        before = {m: run_method(shipped, m, x) for m, x in methods.items()}
        if model_id == BONE_ID:
            fields = {"reference": write_reference(path, methods, atol=TOLERANCES[model_id])}
        else:
            fields = export_torchscript(fresh_net(model_id, shipped), path, methods, atol=TOLERANCES[model_id])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            exported = torch.jit.load(str(path), map_location="cpu").eval()
        summary[model_id] = {m: max_difference(before[m], run_method(exported, m, x)) for m, x in methods.items()}
        entry.update(fields)
        write_registry_entry(registry_path, entry)
    print(json.dumps({"torch": torch.__version__, "max_difference_shipped_vs_exported": summary}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
