"""Rendered colon frames with true depth, cached in shards for the depth network's training.

    python -m OrthoAILib.pipelines.endoscopy.training.renderings --out-dir out/endo-render --count 4000

Seeds 0 to 499 999 train, 500 000 and above validate (never trained on). A shard holds 250 frames
(uint8 RGB, float16 depth in cm, the field-of-view mask); existing shards are kept, so an
interrupted run continues.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

SHARD = 250
VALIDATION_SEED = 500_000


def render_shard(path: Path, first_seed: int, count: int = SHARD) -> None:
    from ....phantoms.colon_render import render_colon

    frames = [render_colon(first_seed + i) for i in range(count)]
    partial = path.with_suffix(".partial.npz")
    np.savez_compressed(partial, rgb=np.stack([np.round(f.rgb * 255).astype(np.uint8) for f in frames]),
                        depth=np.stack([f.depth_cm.astype(np.float16) for f in frames]),
                        valid=np.stack([f.valid for f in frames]), polyp=np.stack([f.polyp for f in frames]))
    partial.rename(path)


def shard_paths(out_dir: Path, count: int, first_seed: int = 0) -> list[tuple[Path, int]]:
    return [(out_dir / f"render_{first_seed + start:06d}.npz", first_seed + start) for start in range(0, count, SHARD)]


def load_shards(paths: list[Path]) -> dict[str, np.ndarray]:
    parts = [np.load(p) for p in paths]
    return {key: np.concatenate([p[key] for p in parts]) for key in ("rgb", "depth", "valid", "polyp")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=Path, required=True)
    parser.add_argument("--count", type=int, default=4000)
    parser.add_argument("--validation", type=int, default=250)
    args = parser.parse_args(argv)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    for path, seed in shard_paths(args.out_dir, args.validation, VALIDATION_SEED) + shard_paths(args.out_dir, args.count):
        if not path.exists():
            render_shard(path, seed)
            print(path, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
