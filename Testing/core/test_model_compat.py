"""Shipped models against their stored reference outputs, the export that writes them, and the
loader's report of a file it cannot load. ``make compat`` runs the same check in an old torch."""

import json
import shutil
import warnings
import zipfile

import numpy as np
import pytest
import torch

from OrthoAILib.errors import ModelError
from OrthoAILib.nets.tiny_bone_net import TinyBoneNet
from OrthoAILib.runtime.checksum import sha256_file
from OrthoAILib.runtime.export import export_torchscript, reference_path
from OrthoAILib.runtime.registry import ModelEntry, ModelRegistry, write_registry_entry
from OrthoAILib.runtime.torchscript import load_torchscript_file

from ..compat import check_models
from ..conftest import REPO_ROOT

MODELS = REPO_ROOT / "Resources" / "Models"
SMALL_MODEL = "phantom-bone-seg-tiny"


def test_every_shipped_model_has_a_verified_reference():
    for entry in ModelRegistry.load(MODELS / "Models.json").entries():
        assert entry.reference is not None, entry.id
        path = MODELS / entry.reference["file"]
        assert path.is_file() and sha256_file(path) == entry.reference["sha256"], entry.id
        assert path.stat().st_size < 5 * 1024 * 1024
        with np.load(path) as arrays:
            for method in entry.reference["methods"]:
                assert f"{method}.input.0" in arrays.files and f"{method}.output.0" in arrays.files, (entry.id, method)


def test_shipped_models_match_their_references_in_this_torch():
    summary = check_models.check_registry(MODELS / "Models.json")
    assert summary["ok"], json.dumps(summary, indent=2)
    assert {m["id"] for m in summary["models"]} == set(ModelRegistry.load(MODELS / "Models.json").ids())


def _copy_of_one_model(tmp_path, model_id=SMALL_MODEL) -> tuple[dict, object]:
    """A registry in ``tmp_path`` holding one shipped model and its reference file."""
    entry = next(m for m in json.loads((MODELS / "Models.json").read_text(encoding="utf-8"))["models"] if m["id"] == model_id)
    for name in (entry["file"], entry["reference"]["file"]):
        shutil.copy(MODELS / name, tmp_path / name)
    registry = tmp_path / "Models.json"
    write_registry_entry(registry, entry)
    return entry, registry


def test_a_changed_reference_output_fails_the_check(tmp_path, capsys):
    entry, registry = _copy_of_one_model(tmp_path)
    reference = tmp_path / entry["reference"]["file"]
    with np.load(reference) as stored:
        arrays = dict(stored)
    arrays["forward.output.0"][0, 1, 5, 5, 5] += 0.5
    np.savez_compressed(reference, **arrays)
    entry["reference"]["sha256"] = sha256_file(reference)  # a consistent registry: only the values differ
    write_registry_entry(registry, entry)

    assert check_models.main([str(registry)]) == 1
    printed = capsys.readouterr()
    summary = json.loads(printed.out)
    (model,) = summary["models"]
    assert not summary["ok"] and not model["ok"]
    assert model["methods"]["forward"]["max_abs_diff"] == pytest.approx(0.5, abs=1e-3)
    assert SMALL_MODEL in printed.err and "differs from the reference by 0.5" in printed.err


def test_a_tampered_or_missing_reference_fails_the_check(tmp_path):
    entry, registry = _copy_of_one_model(tmp_path)
    reference = tmp_path / entry["reference"]["file"]
    reference.write_bytes(reference.read_bytes()[:-10])
    (model,) = check_models.check_registry(registry)["models"]
    assert not model["ok"] and "does not match its sha256" in model["error"]
    reference.unlink()
    (model,) = check_models.check_registry(registry)["models"]
    assert not model["ok"] and "missing" in model["error"]
    del entry["reference"]
    write_registry_entry(registry, entry)
    (model,) = check_models.check_registry(registry)["models"]
    assert not model["ok"] and "no reference" in model["error"]


def test_export_writes_a_file_and_reference_that_the_check_accepts(tmp_path):
    torch.manual_seed(0)
    net = TinyBoneNet(channels=4)
    patches = torch.linspace(-500, 2000, 2 * 16 ** 3).reshape(2, 1, 16, 16, 16)
    fields = export_torchscript(net, tmp_path / "tiny.pt", {"forward": [patches]}, atol=1e-4)
    assert fields["reference"]["file"] == reference_path(tmp_path / "tiny.pt").name == "tiny.reference.npz"
    assert fields["sha256"] == sha256_file(tmp_path / "tiny.pt")
    with np.load(tmp_path / "tiny.reference.npz") as arrays:
        np.testing.assert_array_equal(arrays["forward.input.0"], patches.numpy())
        np.testing.assert_allclose(arrays["forward.output.0"], net(patches).detach().numpy(), atol=1e-5)
    entry = dict(next(m for m in json.loads((MODELS / "Models.json").read_text(encoding="utf-8"))["models"] if m["id"] == SMALL_MODEL))
    entry.update(fields, file="tiny.pt")
    write_registry_entry(tmp_path / "Models.json", entry)  # the fields pass the registry's own checks
    assert check_models.check_registry(tmp_path / "Models.json")["ok"]


def test_export_refuses_a_file_that_disagrees_with_the_network(tmp_path):
    class Drifting(torch.nn.Module):
        def forward(self, x):
            if torch.jit.is_scripting():  # the scripted file computes something else than the network
                return x + 1.0
            return x

    with pytest.raises(RuntimeError, match="differs from the network's by 1"):
        export_torchscript(Drifting(), tmp_path / "drift.pt", {"forward": [torch.zeros(3)]}, atol=1e-4)


@pytest.mark.parametrize("reference, message", [
    ("file.npz", "must be an object"),
    ({"file": "../escape.npz", "sha256": "0" * 64, "atol": 0.1}, "plain file name"),
    ({"file": "r.npz", "sha256": "abc", "atol": 0.1}, "64 lowercase hex"),
    ({"file": "r.npz", "sha256": "0" * 64}, "atol must be a number"),
    ({"file": "r.npz", "sha256": "0" * 64, "atol": 0.1, "rtol": -1}, "rtol must be a number"),
])
def test_registry_refuses_a_malformed_reference(reference, message):
    entry = dict(next(m for m in json.loads((MODELS / "Models.json").read_text(encoding="utf-8"))["models"] if m["id"] == SMALL_MODEL))
    entry["reference"] = reference
    with pytest.raises(ModelError, match=message):
        ModelEntry.from_dict(entry)


def test_loader_error_carries_the_message_and_the_torch_version(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"this is not a model")
    with pytest.raises(ModelError) as raised:
        load_torchscript_file(bad, torch.device("cpu"))
    message = str(raised.value)
    assert "not a loadable TorchScript file" in message and f"torch {torch.__version__}" in message
    assert "PytorchStreamReader failed reading zip archive" in message


def test_loader_error_names_an_operator_this_torch_lacks(tmp_path):
    class Rectifier(torch.nn.Module):
        def forward(self, x):
            return torch.relu(x)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.script(Rectifier()).save(str(tmp_path / "good.pt"))
    # the same file as a newer torch might write it: its code calls an operator this torch lacks
    with zipfile.ZipFile(tmp_path / "good.pt") as source, zipfile.ZipFile(tmp_path / "newer.pt", "w") as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename.endswith(".py"):
                data = data.replace(b"torch.relu(", b"torch._relu_of_a_newer_torch(")
            target.writestr(info.filename, data)
    with pytest.raises(ModelError) as raised:
        load_torchscript_file(tmp_path / "newer.pt", torch.device("cpu"))
    message = str(raised.value)
    assert "Unknown builtin op: aten::_relu_of_a_newer_torch" in message
    assert f"torch {torch.__version__}" in message and "export the model again" in message
    assert "<--- HERE" not in message  # the message, not the source excerpt after it


def test_training_export_uses_the_pipelines_real_inputs():
    """The reference inputs a training run stores are what the hip pipeline passes its networks
    (recomputed here from the shipped networks: identical to the shipped reference files)."""
    import numpy as np

    from OrthoAILib.pipelines.hip.keypoint_pipeline import HipKeypointDetector
    from OrthoAILib.pipelines.hip.training.reference_inputs import hip_reference_inputs
    from OrthoAILib.runtime.export import reference_path
    from OrthoAILib.runtime.registry import ModelRegistry

    shipped = HipKeypointDetector()
    inputs = hip_reference_inputs(shipped.detector_net, shipped.refiner_net, shipped.refinement_weights)
    registry = ModelRegistry.load()
    for model_id, role in (("hip-keypoint-detector", "detector"), ("hip-keypoint-refiner", "refiner")):
        stored = np.load(reference_path(registry.path.parent / registry.get(model_id).file))
        for method, tensors in inputs[role].items():
            for index, tensor in enumerate(tensors):
                assert np.array_equal(stored[f"{method}.input.{index}"], tensor.numpy()), (model_id, method, index)
