"""The time-budgeted training loop the three fracture networks share: AdamW with a cosine schedule
over the budget, validation every ``validate_every`` steps, the best weights kept, early stopping
after ``patience`` validations without progress, a checkpoint at each validation (``--resume``
continues it)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import numpy as np


def train_loop(net, out_dir: Path, minutes: float, lr: float, make_batch: Callable, loss_fn: Callable,
               evaluate: Callable, validate_every: int, resume: bool = False, seed: int = 0, patience: int = 10) -> list[dict]:
    """``make_batch(rng) -> (inputs, target)``, ``loss_fn(outputs, target) -> loss``,
    ``evaluate(net) -> (score, metrics)`` (higher is better). Stops early after ``patience``
    validations without a better score. Returns the log."""
    import torch

    from ...training.checkpoint import RunState, record, resume_run

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    optimiser = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    run = resume_run(out_dir, net, optimiser, None) if resume else RunState()
    log, best = run.log, run.best
    step = log[-1]["step"] if log else 0
    budget = minutes * 60
    started = time.time() - (log[-1]["seconds"] if log else 0)
    losses = []
    while time.time() - started < budget:
        fraction = min((time.time() - started) / budget, 1.0)
        for group in optimiser.param_groups:
            group["lr"] = lr * (0.02 + 0.98 * 0.5 * (1 + np.cos(np.pi * fraction)))
        inputs, target = make_batch(rng)
        loss = loss_fn(net(inputs), target)
        optimiser.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
        optimiser.step()
        losses.append(loss.item())
        step += 1
        if step % validate_every == 0 or time.time() - started >= budget:
            net.eval()
            with torch.no_grad():
                score, metrics = evaluate(net)
            net.train()
            entry = {"step": step, "loss": round(float(np.mean(losses)), 4), "score": round(float(score), 4),
                     **metrics, "seconds": round(time.time() - started, 1)}
            best = record(out_dir, net, optimiser, None, step, log, entry, score, best)
            losses = []
            since_best = len(log) - 1 - max(range(len(log)), key=lambda i: log[i]["score"])
            if since_best >= patience:
                print(f"stopped early: no better validation score in {patience} rounds", flush=True)
                break
    net.load_state_dict(torch.load(out_dir / "best.pt"))
    return log
