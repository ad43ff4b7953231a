"""Behaviour cloning of sequence models with truncated backpropagation through time.

Reads top to bottom: config, the epoch loop (``fit``), and ``train(config)``
which clones a policy from a demonstration file. DAgger (``dagger.py``)
reuses ``fit`` on its growing data set.

Each batch holds whole episodes (padded); the recurrent state starts at zero
at the episode start, runs through the episode in chunks of ``tbptt`` steps,
and is detached between chunks, exactly as the policy meets it when driving.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from liquidcontrol.config import option
from liquidcontrol.errors import LiquidControlError
from liquidcontrol.policies.base import RecurrentPolicy
from liquidcontrol.progress import progress_bar
from liquidcontrol.train.augment import augment_images, draw_jitter
from liquidcontrol.train.data import Demonstrations
from liquidcontrol.train.sources import load_demonstrations


@dataclass
class FitConfig:
    """Optimisation settings shared by BC and DAgger."""

    lr: float = option(3e-3, "Adam learning rate")
    batch_size: int = option(32, "episodes per batch")
    tbptt: int = option(32, "steps per truncated-BPTT chunk (one optimizer step each)")
    grad_clip: float = option(1.0, "max global gradient norm")
    weight_decay: float = option(0.0, "Adam weight decay")
    augment: float = option(0.0, "image augmentation strength (brightness, contrast, colour, shift per episode; pixel noise per frame; see liquidcontrol.train.augment); 0 = off")


def make_optimizer(params: Any, cfg: FitConfig) -> torch.optim.Optimizer:
    return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)


def _to_tensors(chunk: tuple[Any, ...]) -> tuple[Any, ...]:
    obs, *rest = chunk
    obs_t = {k: torch.from_numpy(v) for k, v in obs.items()} if isinstance(obs, dict) else torch.from_numpy(obs)
    return (obs_t, *(torch.from_numpy(a) for a in rest))


def fit_epoch(
    policy: RecurrentPolicy, optimizer: torch.optim.Optimizer, demos: Demonstrations,
    cfg: FitConfig, rng: np.random.Generator,
) -> float:
    """One pass over ``demos``; returns the mean masked MSE of the action labels."""
    policy.train()
    total, weight = 0.0, 0.0
    for batch in demos.batches(cfg.batch_size, rng):
        state = policy.initial_state(len(batch.episodes))
        jitter = draw_jitter(len(batch.episodes), cfg.augment, rng) if cfg.augment > 0 else None
        for s in range(0, batch.steps, cfg.tbptt):
            obs, act, dt, m = _to_tensors(batch.chunk(s, s + cfg.tbptt))
            if jitter is not None and isinstance(obs, dict):
                obs = augment_images(obs, jitter, cfg.augment, s // cfg.tbptt)
            n = float(m.sum())
            if n == 0:
                break
            pred, state = policy.forward_sequence(obs, state, dt)
            loss = (((pred - act) ** 2).mean(-1) * m).sum() / n
            if not torch.isfinite(loss):
                raise LiquidControlError("the training loss became NaN; lower --lr or check the data.")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(policy.parameters(), cfg.grad_clip)
            optimizer.step()
            state = state.detach()
            total += float(loss.detach()) * n
            weight += n
    return total / max(weight, 1.0)


def fit(
    policy: RecurrentPolicy, optimizer: torch.optim.Optimizer, demos: Demonstrations, epochs: int,
    cfg: FitConfig, rng: np.random.Generator, writer: Any = None, step0: int = 0,
    progress: bool = True, desc: str = "fit", on_epoch: Any = None,
) -> list[float]:
    """``epochs`` passes over ``demos``; logs ``loss/bc`` to TensorBoard if a
    ``writer`` is given and calls ``on_epoch(epoch, loss)`` after each pass
    (the caller checkpoints there)."""
    if len(demos) == 0:
        raise LiquidControlError("no demonstrations to train on.")
    losses = []
    with progress_bar(epochs, desc, progress, unit="epoch") as bar:
        for epoch in range(epochs):
            loss = fit_epoch(policy, optimizer, demos, cfg, rng)
            losses.append(loss)
            if bar is not None:
                bar.set_postfix(loss=f"{loss:.4f}")
                bar.update(1)
            if writer is not None:
                writer.add_scalar("loss/bc", loss, step0 + epoch)
            if on_epoch is not None:
                on_epoch(epoch, loss)
    return losses


@dataclass
class BCConfig(FitConfig):
    """Behaviour cloning from a demonstration file (``liquidcontrol train --algo bc``)."""

    demos: str = option("", "demonstrations: a .npz file (from 'liquidcontrol demos') or a ROS 2 bag folder / .mcap file (from 'liquidcontrol record' or a robot)")
    mapping: str = option("", "bag only: topic -> observation/action mapping file (.yaml/.json); empty = the mapping stored in the bag")
    task: str = option("", "task name; empty = the task recorded in the demonstration file")
    kind: str = option("", "model kind (see liquidcontrol.policies.MODEL_KINDS); empty = the task's default")
    units: int = option(0, "neurons (liquid kinds) or hidden units (baselines); 0 = the task's default")
    epochs: int = option(30, "passes over the data")
    obs_std_floor: float = option(0.05, "lower bound of the observation std used for normalisation, in each channel's unit")
    seed: int = option(0, "random seed for weights and batching")
    out: str = option("runs/bc", "output folder for the checkpoint")


def train(config: BCConfig) -> dict[str, Any]:
    """Clone a policy from ``config.demos``; returns a summary dict."""
    from liquidcontrol.tasks import DEFAULT_TASK, get_task
    from liquidcontrol.train.checkpoint import save_checkpoint
    from liquidcontrol.train.model import build_policy, probe_env

    demos = load_demonstrations(config.demos, config.mapping, config.task)
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    task = get_task(config.task or str(demos.meta.get("task") or DEFAULT_TASK))
    probe = probe_env(task.env_id, task.env_kwargs)
    policy = build_policy(config.kind or task.kind, probe, config.units or task.units, config.seed)
    policy.set_obs_stats(demos.obs_stats(config.obs_std_floor))
    optimizer = make_optimizer(policy.parameters(), config)
    start = time.perf_counter()
    out = Path(config.out)

    def checkpoint(epoch: int, loss: float) -> None:
        save_checkpoint(out / "checkpoint", policy, {"epoch": epoch + 1, "loss": loss,
                                                   "recipe": {"algo": "bc", **asdict(config)}}, optimizer)

    losses = fit(policy, optimizer, demos, config.epochs, config, rng, on_epoch=checkpoint)
    return {"final_loss": losses[-1] if losses else math.nan, "seconds": time.perf_counter() - start,
            "checkpoint": str(out / "checkpoint")}
