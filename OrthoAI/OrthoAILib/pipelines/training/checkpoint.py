"""An epoch checkpoint of a training run (weights, optimiser, schedule, log, best score), so that
``--resume`` continues an interrupted run where it stopped."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

CHECKPOINT_FILE = "checkpoint.pt"


@dataclass
class RunState:
    start_epoch: int = 0
    log: list = field(default_factory=list)
    best: float = -1.0


def resume_run(out_dir: Path, net, optimiser, schedule) -> RunState:
    """Load the checkpoint in ``out_dir`` into the three objects; a fresh state when there is none."""
    import torch

    path = out_dir / CHECKPOINT_FILE
    if not path.exists():
        return RunState()
    state = torch.load(path, weights_only=False)
    net.load_state_dict(state["net"])
    optimiser.load_state_dict(state["optimiser"])
    if schedule is not None:  # a run may set its learning rate itself (a time-budgeted schedule)
        schedule.load_state_dict(state["schedule"])
    return RunState(state["epoch"] + 1, state["log"], state["best"])


def save_run(out_dir: Path, net, optimiser, schedule, epoch: int, log: list, best: float) -> None:
    import torch

    torch.save({"net": net.state_dict(), "optimiser": optimiser.state_dict(), "schedule": None if schedule is None else schedule.state_dict(),
                "epoch": epoch, "log": log, "best": best}, out_dir / CHECKPOINT_FILE)


def record(out_dir: Path, net, optimiser, schedule, index: int, log: list, entry: dict, score: float, best: float) -> float:
    """End of an epoch (or validation round): log ``entry`` (printed as one JSON line), keep the
    weights as ``best.pt`` when ``score`` beats ``best``, checkpoint the run. Returns the new best."""
    import json

    import torch

    log.append(entry)
    print(json.dumps(entry), flush=True)
    if score > best:
        best = score
        torch.save(net.state_dict(), out_dir / "best.pt")
    save_run(out_dir, net, optimiser, schedule, index, log, best)
    return best
