"""Scoring of the fracture pipeline's parts against truth: Dice per bone, and matching of found
boxes to true boxes (RibFrac's FROC rule: a hit when the predicted centre lies inside a true box)."""

from __future__ import annotations

import numpy as np


def bone_dice(predicted: np.ndarray, truth: np.ndarray, values=None) -> dict[int, float]:
    """Dice per label value present in the truth (or in ``values``)."""
    values = [int(v) for v in np.unique(truth) if v > 0] if values is None else values
    out = {}
    for value in values:
        p, t = predicted == value, truth == value
        total = int(p.sum()) + int(t.sum())
        if total:
            out[value] = 2.0 * float(np.logical_and(p, t).sum()) / total
    return out


def centre_inside(boxes: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """``inside[p, t]``: the centre of found box p lies in true box t."""
    boxes, truth = np.asarray(boxes).reshape(-1, 6), np.asarray(truth).reshape(-1, 6)
    centres = (boxes[:, :3] + boxes[:, 3:]) / 2
    return np.all((centres[:, None, :] >= truth[None, :, :3]) & (centres[:, None, :] <= truth[None, :, 3:]), -1)


def match_findings(boxes: np.ndarray, scores: np.ndarray, truth: np.ndarray) -> list[tuple[float, str]]:
    """Per found box, highest score first: ``hit`` (first to land in a true box), ``repeat`` (a box
    already hit; neither hit nor false positive) or ``false``."""
    inside = centre_inside(boxes, truth)
    taken = np.zeros(inside.shape[1], bool)
    out = []
    for index in np.argsort(-np.asarray(scores)):
        hits = np.flatnonzero(inside[index])
        if len(hits) == 0:
            out.append((float(scores[index]), "false"))
            continue
        fresh = [h for h in hits if not taken[h]]
        if fresh:
            taken[fresh[0]] = True
            out.append((float(scores[index]), "hit"))
        else:
            out.append((float(scores[index]), "repeat"))
    return out
