"""Device choice, TorchScript loading and sliding-window inference with progress and cancel."""

import math

import numpy as np
import pytest
import torch

from OrthoAILib.errors import Cancelled, ModelError
from OrthoAILib.runtime.device import select_device
from OrthoAILib.runtime.inference import count_windows, sliding_window_predict
from OrthoAILib.runtime.progress import CancelToken
from OrthoAILib.pipelines.bone_phantom.pipeline import run_runtime_check
from OrthoAILib.runtime.torchscript import load_torchscript_file


class PointwiseNet(torch.nn.Module):
    """A fixed analytic network with no spatial context: y = 2x + 1 and -x."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([2 * x + 1, -x], dim=1)


@pytest.fixture(scope="module")
def pointwise_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("models") / "pointwise.pt"
    torch.jit.script(PointwiseNet()).save(str(path))
    return path


def test_force_cpu_by_argument_and_environment(monkeypatch):
    assert select_device(force_cpu=True).type == "cpu"
    monkeypatch.setenv("ORTHOAI_FORCE_CPU", "1")
    assert select_device().type == "cpu"
    monkeypatch.setenv("ORTHOAI_FORCE_CPU", "0")
    assert select_device().type == ("cuda" if torch.cuda.is_available() else "cpu")


def test_torchscript_is_loaded_once_per_file_and_device(pointwise_file):
    first = load_torchscript_file(pointwise_file, torch.device("cpu"))
    assert load_torchscript_file(pointwise_file, torch.device("cpu")) is first


def test_a_non_torchscript_file_is_reported(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"this is not a model")
    with pytest.raises(ModelError, match="not a loadable TorchScript file"):
        load_torchscript_file(bad, torch.device("cpu"))


@pytest.mark.parametrize("shape, roi, overlap, batch", [
    ((40, 48, 48), (32, 32, 32), 0.25, 2),
    ((20, 70, 33), (16, 32, 32), 0.5, 3),
    ((10, 10, 10), (16, 16, 16), 0.25, 1),  # smaller than one window: padded
    ((64, 96), (32, 32), 0.25, 4),  # 2-D
])
def test_sliding_window_matches_whole_image_and_reports_every_batch(pointwise_file, shape, roi, overlap, batch):
    module = load_torchscript_file(pointwise_file, torch.device("cpu"))
    image = np.random.default_rng(0).normal(size=(1, *shape)).astype(np.float32)
    original = image.copy()
    fractions = []
    output = sliding_window_predict(module, image, roi, overlap=overlap, sw_batch_size=batch,
                                    progress=lambda f, m: fractions.append(f))
    assert output.shape == (2, *shape)
    assert np.allclose(output[0], 2 * image[0] + 1, atol=1e-5) and np.allclose(output[1], -image[0], atol=1e-5)
    assert np.array_equal(image, original)
    expected_batches = math.ceil(count_windows(shape, roi, overlap) / batch)
    assert len(fractions) == expected_batches and fractions[-1] == pytest.approx(1.0)


def test_cancel_stops_between_batches(pointwise_file):
    module = load_torchscript_file(pointwise_file, torch.device("cpu"))
    cancel = CancelToken()
    calls = []

    def progress(fraction, message):
        calls.append(fraction)
        cancel.cancel()

    with pytest.raises(Cancelled, match="cancelled"):
        sliding_window_predict(module, np.zeros((1, 64, 64, 64), np.float32), (32, 32, 32),
                               sw_batch_size=1, progress=progress, cancel=cancel)
    assert len(calls) == 1


def test_shipped_model_end_to_end_on_a_phantom(cpu_only):
    fractions = []
    check = run_runtime_check(progress=lambda f, m: fractions.append(f))
    assert check.result.device == "cpu" and check.result.status == "ok"
    assert check.dice > 0.9  # the registry reports 0.97 on held-out phantoms
    assert fractions[0] == 0.0 and fractions[-1] == pytest.approx(1.0)
    assert check.result.labelmap.shape == check.image.array.shape
    assert check.result.geometry == check.image.geometry  # the labelmap refers to the input's grid
    assert check.result.bone_volume_ml > 0 and check.result.to_json()["status"] == "ok"
