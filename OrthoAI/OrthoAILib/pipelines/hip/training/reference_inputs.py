"""The tensors the hip pipeline passes its two networks for one held-out film: the reference
inputs stored beside each exported model (``runtime.export``) and replayed by ``make compat``.

A held-out benchmark film (never trained on) with prostheses on both sides, so both views are
refined, and whose detector outputs are far from ties between the 4th and 5th best boxes of a
class, where tiny numeric differences between CPUs could swap the boxes a keypoint averages.
"""

from __future__ import annotations

from typing import Optional

FILM_SEED = 1_000_012
TOLERANCE = 2e-3  # (row, column) in input or crop pixels, and probabilities: what another torch may differ by


class _Recorder:
    """Stands in for a network and keeps a copy of the inputs of each method call."""

    def __init__(self, net) -> None:
        self.net, self.calls = net, {}

    def __getattr__(self, name):
        method = getattr(self.net, name)

        def call(*inputs):
            self.calls[name] = [tensor.detach().cpu().clone() for tensor in inputs]
            return method(*inputs)
        return call


def hip_reference_inputs(detector_net, refiner_net, refinement_weights: Optional[dict] = None) -> dict:
    """``{"detector": {method: inputs}, "refiner": {method: inputs}}`` for the reference film."""
    import torch

    from ....phantoms.pelvis_xray import make_pelvis_radiograph
    from ..keypoint_pipeline import HipKeypointDetector

    detector, refiner = _Recorder(detector_net), _Recorder(refiner_net)
    film = make_pelvis_radiograph(FILM_SEED)
    with torch.no_grad():
        HipKeypointDetector.from_networks(detector, refiner, refinement_weights).detect(
            film.image, (film.spacing_mm, film.spacing_mm))
    return {"detector": detector.calls, "refiner": refiner.calls}
