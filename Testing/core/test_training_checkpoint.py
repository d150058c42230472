"""An interrupted training run resumes with its weights, optimiser, schedule and log."""

from __future__ import annotations

import torch

from OrthoAILib.pipelines.training.checkpoint import RunState, resume_run, save_run


def parts():
    net = torch.nn.Linear(3, 2)
    optimiser = torch.optim.AdamW(net.parameters(), lr=1e-2)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, 1e-2, total_steps=10)
    return net, optimiser, schedule


def test_a_run_resumes_where_it_stopped(tmp_path):
    assert resume_run(tmp_path, *parts()) == RunState()
    net, optimiser, schedule = parts()
    for _ in range(3):
        net(torch.ones(1, 3)).sum().backward()
        optimiser.step()
        schedule.step()
    save_run(tmp_path, net, optimiser, schedule, epoch=2, log=[{"epoch": 2}], best=0.5)
    fresh = parts()
    state = resume_run(tmp_path, *fresh)
    assert state == RunState(3, [{"epoch": 2}], 0.5)
    assert torch.equal(fresh[0].weight, net.weight)
    assert fresh[2].get_last_lr() == schedule.get_last_lr()
