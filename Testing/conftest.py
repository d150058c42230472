"""Shared fixtures. One headless MRML application serves every test that needs a scene."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def slicer_app(tmp_path_factory):
    from OrthoAILib.mrml.app import HeadlessSlicer

    app = HeadlessSlicer(cache_dir=tmp_path_factory.mktemp("mrml-cache"))
    yield app
    app.close()


@pytest.fixture
def scene(slicer_app):
    """The application's scene, emptied after the test."""
    slicer_app.install_globals()
    yield slicer_app.scene
    slicer_app.clear()


def scene_node_ids(scene) -> set[str]:
    return {scene.GetNthNode(i).GetID() for i in range(scene.GetNumberOfNodes())}


def hand_computed_landmarks() -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """A 2-D case whose measures are known by construction (see the README's figure).

    Teardrop line y = 0, ischia at y = -40 (so "up" is +y), symphysis at x = 0.
    Cup centre (-60, 15), radius 25, diameter tilted 40 deg, bone contact 30 deg
    from the lateral end; contralateral centre (58, 12).
    """
    radius, tilt = 25.0, math.radians(40)
    centre = np.array([-60.0, 15.0])
    lateral_direction = np.array([-math.cos(tilt), math.sin(tilt)])
    contact_angle = math.radians(140 - 30)
    points = {
        "cup_lateral": centre + radius * lateral_direction,
        "cup_medial": centre - radius * lateral_direction,
        "cup_bone_contact": centre + radius * np.array([math.cos(contact_angle), math.sin(contact_angle)]),
        "contralateral_center": np.array([58.0, 12.0]),
        "teardrop_right": np.array([-50.0, 0.0]),
        "teardrop_left": np.array([50.0, 0.0]),
        "ischium_right": np.array([-45.0, -40.0]),
        "ischium_left": np.array([45.0, -40.0]),
        "pubic_symphysis": np.array([0.0, -20.0]),
    }
    expected = {
        "abduction_deg": 40.0,
        "coverage_pct": (180.0 - 30.0) / 180.0 * 100.0,
        "rc_vertical_offset_mm": 15.0 - 12.0,
        "rc_horizontal_offset_mm": 60.0 - 58.0,
    }
    return points, expected


@pytest.fixture
def hand_case():
    return hand_computed_landmarks()


def embed_in_3d(points_2d: dict[str, np.ndarray], rotation: np.ndarray, offset) -> dict[str, np.ndarray]:
    return {name: rotation @ np.array([p[0], p[1], 0.0]) + np.asarray(offset, dtype=float)
            for name, p in points_2d.items()}


def random_rotation(seed: int) -> np.ndarray:
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] *= -1
    return q


@pytest.fixture
def cpu_only(monkeypatch):
    monkeypatch.setenv("ORTHOAI_FORCE_CPU", "1")
