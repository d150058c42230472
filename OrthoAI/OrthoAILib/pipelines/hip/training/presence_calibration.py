"""Calibrate and measure the "is there a cup to measure?" decision (``pipelines/hip/presence.py``).

Scores come from the detector exactly as the pipeline computes them (both views, the film at its
own spacing). Each film gives two views, each a question "is there a cup on this hip?":

* positives: the operated hips of post-THA films;
* negatives: the native hip of unilateral films, both hips of adult pelves with native hips and
  of children's pelves, and both views of films that are not an AP pelvis (knee, lateral hip,
  chest, blank, noise).

Thresholds are chosen on validation seeds (from 500 000): ``cup_accept`` keeps false acceptance
on negative views at most 0.5 %, ``cup_reject`` keeps false rejection of positive views at most
0.5 %; between the two a cup is "too uncertain to measure". When the two classes separate,
one threshold halfway between them serves both. ``pelvis_accept`` separates AP pelves (with
or without prostheses, children's too) from the other films the same way. The figures are then
measured on held-out seeds (from 1 000 000) and stored with the thresholds in the detector's
registry entry.

    python -m OrthoAILib.pipelines.hip.training.presence_calibration [--validation 300] [--heldout 300] [--update-registry]
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional

import numpy as np

from ..presence import PresenceThresholds, cup_scores, pelvis_score
from .data import film_for_seed, film_kind

VALIDATION_SEED_START = 500_000
HELDOUT_SEED_START = 1_000_000
APPROACH_RATE = 0.005  # at most 0.5 % false acceptance / false rejection on validation
PELVIS_KINDS = ("tha", "none", "child_pelvis")


@dataclass(frozen=True)
class FilmScores:
    seed: int
    kind: str
    cups: tuple[float, float]  # view 0: the patient's right hip; view 1: the left
    has_cup: tuple[bool, bool]
    pelvis: float


def score_films(detector, seeds: Iterable[int]) -> list[FilmScores]:
    """Detector scores of generated films (at their own spacing), as the pipeline computes them."""
    import torch

    from ..preprocess import preprocess_both_views

    records = []
    for seed in seeds:
        film = film_for_seed(seed)
        views = preprocess_both_views(film.image, (film.spacing_mm, film.spacing_mm))
        batch = torch.from_numpy(np.stack([v.detector_input for v in views]))[:, None].to(detector.device)
        with torch.inference_mode():
            coarse = detector.detector_net.keypoints(batch).cpu().numpy()
        cups = cup_scores(coarse)
        records.append(FilmScores(seed, film_kind(seed), (float(cups[0]), float(cups[1])),
                                  ("right" in film.operated_sides, "left" in film.operated_sides),
                                  pelvis_score(coarse)))
    return records


def _views(records: list[FilmScores]) -> tuple[np.ndarray, np.ndarray]:
    positive = np.array([c for r in records for c, has in zip(r.cups, r.has_cup) if has])
    negative = np.array([c for r in records for c, has in zip(r.cups, r.has_cup) if not has])
    return positive, negative


def _split(high: np.ndarray, low: np.ndarray) -> tuple[float, float]:
    """(accept, reject): accept lets through at most 0.5 % of ``low``, reject stops at most 0.5 % of ``high``."""
    accept = float(np.quantile(low, 1 - APPROACH_RATE)) + 1e-6 if low.size else 0.5
    reject = float(np.quantile(high, APPROACH_RATE)) if high.size else 0.5
    if reject >= accept:  # the two separate: one threshold halfway between them
        accept = reject = (accept + reject) / 2
    return accept, reject


def calibrate(records: list[FilmScores]) -> PresenceThresholds:
    positive, negative = _views(records)
    cup_accept, cup_reject = _split(positive, negative)
    pelvis = np.array([r.pelvis for r in records if r.kind in PELVIS_KINDS])
    other = np.array([r.pelvis for r in records if r.kind not in PELVIS_KINDS])
    pelvis_accept, _ = _split(pelvis, other)
    return PresenceThresholds(round(cup_accept, 4), round(cup_reject, 4), round(pelvis_accept, 4))


def measure(records: list[FilmScores], thresholds: PresenceThresholds) -> dict:
    """Held-out figures: per view (hip) and per film kind."""
    positive, negative = _views(records)
    pelvis_ok = np.array([r.pelvis >= thresholds.pelvis_accept for r in records])
    is_pelvis = np.array([r.kind in PELVIS_KINDS for r in records])
    by_kind = {}
    for kind in sorted({r.kind for r in records}):
        chosen = [r for r in records if r.kind == kind]
        accepted = [c >= thresholds.cup_accept and r.pelvis >= thresholds.pelvis_accept
                    for r in chosen for c in r.cups]
        by_kind[kind] = {"films": len(chosen), "hips_measured": round(float(np.mean(accepted)), 4),
                         "read_as_ap_pelvis": round(float(np.mean([r.pelvis >= thresholds.pelvis_accept for r in chosen])), 4)}
    return {
        "films": len(records), "positive_hips": int(positive.size), "negative_hips": int(negative.size),
        "false_acceptance_rate": round(float(np.mean(negative >= thresholds.cup_accept)), 4) if negative.size else None,
        "false_rejection_rate": round(float(np.mean(positive < thresholds.cup_reject)), 4) if positive.size else None,
        "low_confidence_rate_positive": round(float(np.mean((positive >= thresholds.cup_reject) &
                                                            (positive < thresholds.cup_accept))), 4) if positive.size else None,
        "not_ap_pelvis_recognised": round(float(np.mean(~pelvis_ok[~is_pelvis])), 4) if (~is_pelvis).any() else None,
        "ap_pelvis_wrongly_refused": round(float(np.mean(~pelvis_ok[is_pelvis])), 4) if is_pelvis.any() else None,
        "by_kind": by_kind,
    }


def update_registry(thresholds: PresenceThresholds, figures: dict, registry: Optional[Path] = None) -> None:
    from ....runtime.registry import ModelRegistry, default_registry_path, write_registry_entry
    from ..keypoint_pipeline import DETECTOR_ID

    path = registry or default_registry_path()
    entry = ModelRegistry.load(path).get(DETECTOR_ID).to_dict()
    entry["presence"] = {"cup_accept": thresholds.cup_accept, "cup_reject": thresholds.cup_reject,
                         "pelvis_accept": thresholds.pelvis_accept}
    entry["metrics"] = dict(entry.get("metrics", {}), presence_heldout=figures)
    write_registry_entry(path, entry)


def main(argv: list[str] | None = None) -> int:
    from ..keypoint_pipeline import HipKeypointDetector

    parser = argparse.ArgumentParser(description="Calibrate and measure the hip pipeline's cup-presence decision.")
    parser.add_argument("--validation", type=int, default=300, help="validation films (seeds from 500 000)")
    parser.add_argument("--heldout", type=int, default=300, help="held-out films (seeds from 1 000 000)")
    parser.add_argument("--update-registry", action="store_true", help="store thresholds and figures in Models.json")
    parser.add_argument("--registry", type=Path, help="registry to update (default: the shipped Models.json)")
    args = parser.parse_args(argv)
    detector = HipKeypointDetector()
    thresholds = calibrate(score_films(detector, range(VALIDATION_SEED_START, VALIDATION_SEED_START + args.validation)))
    figures = measure(score_films(detector, range(HELDOUT_SEED_START, HELDOUT_SEED_START + args.heldout)), thresholds)
    print(json.dumps({"thresholds": thresholds.__dict__, "heldout": figures}, indent=2))
    if args.update_registry:
        update_registry(thresholds, figures, args.registry)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
