"""Imitation recipe: expert demonstrations -> behaviour cloning -> DAgger.

Reads top to bottom:

1. set-up (output folder, resume, TensorBoard);
2. iteration 0: the expert drives with smooth noise on the executed action
   (clean labels), and the policy is cloned from that (``bc.fit``);
3. iterations 1..N: the policy first drives alone on fixed validation
   seeds (its success there selects the checkpoint that ships: tiny
   recurrent policies swing a lot between iterations); then it drives on
   fresh seeds, the expert labels every state it visits, data aggregate,
   and the policy is refitted with a decaying learning rate. A last
   validation scores the final fit.

Seeds follow the one seed plan (:mod:`liquidcontrol.seeds`): demonstrations
are training round 0, DAgger rounds 1..N, validation its own fixed range,
evaluation another, so no two ever share an episode.
Budgets are counts (episodes, epochs, rounds): the same seed and budget give
the same policy on any machine. ``max_minutes`` is an optional safety cap:
when it fires, the round in progress still scores the latest fit on the
validation seeds before training stops.
Checkpoints are written after every BC epoch and every DAgger iteration;
``resume=True`` continues from the last one; Ctrl-C saves and exits cleanly.
A resumed run must keep the fields that define the model and the data
(:data:`RESUME_MUST_MATCH`, compared with the checkpoint's saved recipe);
budget fields may change, and the run says which new values it uses.
In the history a rate that was not measured in a round (the learner's
success in the last, validation-only round; validation with 0 episodes)
is None, so every record stays strict JSON.
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
from liquidcontrol.seeds import training_seeds, validation_seeds
from liquidcontrol.tasks import DEFAULT_TASK, Task, get_task
from liquidcontrol.train.bc import FitConfig, fit, make_optimizer
from liquidcontrol.train.checkpoint import load_checkpoint, read_progress, save_checkpoint
from liquidcontrol.train.collect import collect_episodes
from liquidcontrol.train.data import Demonstrations


@dataclass
class DaggerConfig(FitConfig):
    """Behaviour cloning then DAgger against the task's scripted expert."""

    lr: float = option(1e-2, "Adam learning rate (decays by lr_decay per DAgger iteration)")

    task: str = option(DEFAULT_TASK, "task name (see liquidcontrol.tasks); sets the env, expert and defaults")
    kind: str = option("", "model kind (see liquidcontrol.policies.MODEL_KINDS); empty = the task's default")
    units: int = option(0, "neurons (liquid kinds) or hidden units (baselines); 0 = the task's default")
    param_budget: int = option(0, "baselines only: size the model to about this many trainable parameters instead of --units")
    seed: int = option(0, "training seed (weights, batching, training episodes)")
    demos: str = option("", "behaviour-clone from these demonstrations (.npz file or ROS 2 bag) instead of recording demo_episodes expert episodes")
    mapping: str = option("", "with a bag in --demos: its topic mapping file; empty = the mapping stored in the bag")
    demo_episodes: int = option(64, "expert episodes recorded for behaviour cloning")
    demo_noise: list[float] = option([], "OU noise per action dimension on the expert's executed action (labels stay clean); empty = the task's recipe")
    bc_epochs: int = option(40, "behaviour-cloning passes over the demonstrations")
    iterations: int = option(16, "DAgger rounds of rollout, labelling and refit (a last validation scores the final fit)")
    episodes_per_iteration: int = option(64, "learner episodes per DAgger iteration")
    epochs_per_iteration: int = option(20, "passes over the aggregated data per iteration")
    lr_decay: float = option(0.9, "learning-rate factor per DAgger iteration")
    validation_episodes: int = option(200, "episodes on fixed validation seeds scoring each round (0: use the DAgger rollouts)")
    train_perturbations: list[str] = option([], "perturbations ('name:severity') in the DAgger rollouts with an even episode seed (half); the expert labels from the true state")
    obs_std_floor: float = option(0.05, "lower bound of the observation std used for normalisation, in each channel's unit")
    rollout_steps: int = option(500, "DAgger rollouts stop after this many steps (counted as failures)")
    beta: float = option(0.0, "probability that the expert executes a step in DAgger rollouts")
    n_envs: int = option(16, "envs stepped in lockstep")
    max_minutes: float = option(0.0, "optional safety cap: after this many minutes the current round only validates, then training stops (0 = none)")
    threads: int = option(1, "torch threads (1 is fastest for tiny models)")
    out: str = option("runs/train", "output folder (checkpoint/, best/, data/, tb/)")
    resume: bool = option(False, "continue the run in --out from its last checkpoint")
    progress: bool = option(True, "show progress bars")


#: Fields that define the model or its data: a resumed run must keep them.
RESUME_MUST_MATCH = ("task", "kind", "units", "param_budget", "seed", "obs_std_floor", "demo_episodes", "demo_noise",
                     "train_perturbations", "demos", "mapping")
#: Fields that say where and how to run, not what is trained: never compared on resume.
RESUME_IGNORED = ("out", "resume")


def resolve(config: DaggerConfig) -> tuple[DaggerConfig, Task]:
    """Fill the fields left to the task (kind, units, demo noise, recipe) and check them."""
    import dataclasses

    task = get_task(config.task)
    changes: dict[str, Any] = {}
    defaults = {f.name: getattr(DaggerConfig(), f.name) for f in dataclasses.fields(DaggerConfig)}
    for key, value in task.recipe.items():
        if key not in defaults:
            raise LiquidControlError(f"task {task.name!r} recipe names unknown training field {key!r}.")
        if getattr(config, key) == defaults[key]:
            changes[key] = value
    if not config.kind:
        changes["kind"] = task.kind
    if not config.units:
        changes["units"] = task.units
    from liquidcontrol.perturb.registry import parse_item

    task.check_train_perturbations([parse_item(p)[0] for p in config.train_perturbations])
    # The seed plan bounds the budgets: fail now, not after hours of training at the last round.
    training_seeds(config.seed, 0, config.demo_episodes)
    training_seeds(config.seed, max(config.iterations, 1), config.episodes_per_iteration)
    validation_seeds(max(config.validation_episodes, 0))
    resolved = dataclasses.replace(config, **changes)
    from liquidcontrol.policies.registry import is_liquid

    if resolved.param_budget and is_liquid(resolved.kind):  # also rejects unknown kinds
        raise LiquidControlError("--param-budget sizes baselines; size a liquid model with --units.")
    if resolved.demo_noise:
        from liquidcontrol.train.model import probe_env

        act_dim = probe_env(task.env_id, task.env_kwargs).act_dim
        if len(resolved.demo_noise) not in (1, act_dim) or min(resolved.demo_noise) < 0:
            raise LiquidControlError(f"--demo-noise needs one value or {act_dim} values (one per action), each >= 0; "
                                     f"got {resolved.demo_noise}.")
    return resolved, task


@dataclass
class _Run:
    """Mutable state of one training run (what a checkpoint restores)."""

    policy: Any
    optimizer: torch.optim.Optimizer
    demos: Demonstrations
    iteration: int = 0  # completed iterations (0 = not even BC finished)
    bc_epoch: int = 0
    best_success: float = -1.0
    history: list[dict[str, Any]] | None = None
    rng_state: dict[str, Any] | None = None  # the batching generator's state at the checkpoint
    rng: np.random.Generator | None = None


def train(config: DaggerConfig) -> dict[str, Any]:
    """Run the whole recipe; returns a summary (success per iteration, paths, time)."""
    from torch.utils.tensorboard import SummaryWriter

    config, task = resolve(config)
    torch.set_num_threads(max(1, config.threads))
    out = Path(config.out)
    start = time.perf_counter()
    run = _resume(config, out) if config.resume else _fresh(config, task, out)
    writer = SummaryWriter(str(out / "tb"))
    # The batching generator is part of the checkpoint, so a resumed run shuffles exactly as an
    # uninterrupted one would have (from a checkpoint written at the end of an epoch or round).
    rng = np.random.default_rng(config.seed)
    if run.rng_state is not None:
        try:
            rng.bit_generator.state = run.rng_state
        except (TypeError, ValueError, KeyError) as exc:
            raise LiquidControlError(f"the checkpoint in {out} has a corrupt generator state ({exc}).") from None
    run.rng = rng
    capped = False
    try:
        if run.iteration == 0:
            _behaviour_cloning(config, task, out, run, rng, writer)
        while run.iteration <= config.iterations + 1 and not capped:
            capped = bool(config.max_minutes) and time.perf_counter() - start > 60 * config.max_minutes
            if capped:
                print(f"safety cap of {config.max_minutes} min reached: round {run.iteration} only validates the last fit")
            _dagger_iteration(config, task, out, run, rng, writer, score_only=capped)
    except KeyboardInterrupt:
        _save(config, out, run)
        print(f"\ninterrupted: checkpoint saved in {out / 'checkpoint'}; continue with --resume")
        raise
    finally:
        writer.close()
    return {
        "best": str(out / "best"),
        "best_success": run.best_success,
        "history": run.history,
        "train_seconds": time.perf_counter() - start,
        "steps": run.demos.num_steps,
        "capped": capped,
        "config": asdict(config),
    }


def _fresh(config: DaggerConfig, task: Task, out: Path) -> _Run:
    from liquidcontrol.train.model import build_policy, probe_env

    if (out / "checkpoint" / "progress.json").exists():
        raise LiquidControlError(f"{out} already holds a training run; pass --resume to continue it or choose another --out.")
    torch.manual_seed(config.seed)
    probe = probe_env(task.env_id, task.env_kwargs)
    policy = build_policy(config.kind, probe, config.units, config.seed, param_budget=config.param_budget)
    return _Run(policy, make_optimizer(policy.parameters(), config), Demonstrations(), history=[])


def check_resume_recipe(saved: dict[str, Any], config: DaggerConfig, out: Path) -> list[str]:
    """Compare a checkpoint's saved recipe with the (resolved) new config.

    Raises one error naming every model/data field that differs (saved vs new
    value); returns ``"field=new (was old)"`` for the other fields that changed.
    Fields the saved recipe lacks (older checkpoints) are not compared.
    """
    new = asdict(config)
    differs = [k for k in new if k in saved and k not in RESUME_IGNORED and saved[k] != new[k]]
    refused = [k for k in differs if k in RESUME_MUST_MATCH]
    if refused:
        what = "; ".join(f"{k}: saved {saved[k]!r}, new {new[k]!r}" for k in refused)
        raise LiquidControlError(
            f"cannot resume {out}: it was trained with other model or data settings ({what}); "
            "resume with the saved values or start a new run in another --out.")
    return [f"{k}={new[k]!r} (was {saved[k]!r})" for k in differs]


def _resume(config: DaggerConfig, out: Path) -> _Run:
    folder = out / "checkpoint"
    if not (folder / "progress.json").exists():
        raise LiquidControlError(f"nothing to resume: {folder} holds no checkpoint.")
    changed = check_resume_recipe(read_progress(folder).get("recipe") or {}, config, out)
    if changed:
        print(f"resuming with new values: {', '.join(changed)}", flush=True)
    policy, record, optimizer = load_checkpoint(folder, lambda p: make_optimizer(p, config))
    if optimizer is not None and record["iteration"] == 0:
        for group in optimizer.param_groups:  # BC runs at --lr (the saved optimizer state holds the old one)
            group["lr"] = config.lr
    demos = Demonstrations()
    for name in record.get("data_files", []):
        demos.extend(Demonstrations.load(out / "data" / name))
    print(f"resuming {out}: iteration {record['iteration']}, BC epoch {record['bc_epoch']}, {demos.num_steps} steps of data")
    run = _Run(policy, optimizer, demos, record["iteration"], record["bc_epoch"],  # type: ignore[arg-type]
               record.get("best_success", -1.0), record.get("history", []), record.get("rng_state"))
    last = run.history[-1] if run.history else None
    if (last is not None and last.get("learner_success") is None and last["iteration"] == run.iteration - 1
            and last["iteration"] <= config.iterations):
        # That round only validated (the run's last round, or the safety cap fired); with the new
        # budget it is a DAgger round, so it runs again in full (same policy, same validation seeds).
        assert run.history is not None
        run.history.pop()
        run.iteration -= 1
        print(f"round {run.iteration} only validated; it now runs as a full DAgger round", flush=True)
    return run


def _save(config: DaggerConfig, out: Path, run: _Run) -> None:
    files = sorted(p.name for p in (out / "data").glob("iter_*.npz")) if (out / "data").exists() else []
    files = [f for f in files if int(f[5:8]) < max(run.iteration, 1)]
    progress = {"iteration": run.iteration, "bc_epoch": run.bc_epoch, "best_success": run.best_success,
                "history": run.history, "data_files": files, "recipe": {"algo": "dagger", **asdict(config)},
                "rng_state": run.rng.bit_generator.state if run.rng is not None else None}
    save_checkpoint(out / "checkpoint", run.policy, progress, run.optimizer)


def _behaviour_cloning(config: DaggerConfig, task: Task, out: Path, run: _Run, rng: np.random.Generator,
                       writer: Any) -> None:
    data_file = out / "data" / "iter_000.npz"
    if data_file.exists() and run.bc_epoch > 0:
        run.demos = Demonstrations.load(data_file)
    elif config.demos:
        run.demos = _given_demos(config, task)
        run.demos.save(data_file)
        run.policy.set_obs_stats(run.demos.obs_stats(config.obs_std_floor))
    else:
        run.demos, stats = collect_episodes(
            task, training_seeds(config.seed, 0, config.demo_episodes),
            action_noise=config.demo_noise or 0.0, n_envs=config.n_envs, progress=config.progress,
            desc="expert demos")
        run.demos.save(data_file)
        writer.add_scalar("success/expert_noisy", stats.success_rate, 0)
        run.policy.set_obs_stats(run.demos.obs_stats(config.obs_std_floor))

    def on_epoch(epoch: int, loss: float) -> None:
        run.bc_epoch += 1
        _save(config, out, run)

    fit(run.policy, run.optimizer, run.demos, config.bc_epochs - run.bc_epoch, config, rng, writer,
        step0=run.bc_epoch, progress=config.progress, desc="behaviour cloning", on_epoch=on_epoch)
    run.iteration = 1
    _save(config, out, run)


def _given_demos(config: DaggerConfig, task: Task) -> Demonstrations:
    """The demonstrations of ``--demos`` (native file or bag), checked to belong to ``task``."""
    from liquidcontrol.train.sources import load_demonstrations

    demos = load_demonstrations(config.demos, config.mapping, task.name, config.progress)
    recorded = demos.meta.get("task")
    if recorded and recorded != task.name:
        raise LiquidControlError(f"{config.demos} holds demonstrations of task {recorded!r}, not {task.name!r}.")
    return demos


def _perturb_half(config: DaggerConfig, task: Task) -> Any:
    """A ``wrap`` for collect_episodes: episodes with an even seed run on a perturbed
    twin of the env (decided by the seed alone, whatever slot or ``n_envs``)."""
    if not config.train_perturbations:
        return None
    import gymnasium as gym

    from liquidcontrol.perturb import apply_perturbations
    from liquidcontrol.perturb.mix import EpisodeMix

    def wrap(env: Any) -> Any:
        twin = apply_perturbations(gym.make(task.env_id, **task.env_kwargs), config.train_perturbations,
                                   [config.seed])
        return EpisodeMix(env, twin)

    return wrap


def validate(task: Task, policy: Any, episodes: int, n_envs: int = 16, progress: bool = False) -> float:
    """Success of ``policy`` driving alone on the fixed validation seeds (NaN if ``episodes`` is 0)."""
    if episodes <= 0:
        return float("nan")
    _, stats = collect_episodes(task, validation_seeds(episodes), policy=policy, label=False,
                                n_envs=n_envs, progress=progress, desc="validate")
    return stats.success_rate


def _rate(value: float) -> float | None:
    """A success rate for the JSON records: None when it was not measured (NaN)."""
    return None if math.isnan(value) else float(value)


def _dagger_iteration(config: DaggerConfig, task: Task, out: Path, run: _Run, rng: np.random.Generator,
                      writer: Any, score_only: bool = False) -> None:
    """Score the current learner on the validation seeds (keep it if best),
    then let it drive on fresh seeds, label, aggregate and refit."""
    it = run.iteration
    run.policy.eval()
    final = score_only or it == config.iterations + 1  # the last round only scores the final fit
    val = validate(task, run.policy, config.validation_episodes, config.n_envs, config.progress)
    learner = float("nan")
    if not final:
        seeds = training_seeds(config.seed, it, config.episodes_per_iteration)
        new, stats = collect_episodes(
            task, seeds, policy=run.policy, beta=config.beta,
            n_envs=config.n_envs, max_steps=config.rollout_steps, progress=config.progress,
            desc=f"DAgger {it}/{config.iterations}", wrap=_perturb_half(config, task))
        learner = stats.success_rate
        writer.add_scalar("success/learner", learner, it)
    writer.add_scalar("success/validation", val, it)
    score = learner if np.isnan(val) else val
    assert run.history is not None
    run.history.append({"iteration": it, "validation_success": _rate(val), "learner_success": _rate(learner),
                        "steps": run.demos.num_steps})
    measured = not np.isnan(score)
    if (measured and score >= run.best_success) or not (out / "best" / "progress.json").exists():
        # Without any measured round (no validation, no rollouts) the latest fit is kept.
        run.best_success = score if measured else run.best_success
        save_checkpoint(out / "best", run.policy, {"iteration": it, "validation_success": _rate(val),
                                                  "learner_success": _rate(learner),
                                                  "recipe": {"algo": "dagger", **asdict(config)}})
    print(f"DAgger {it}: validation success {val:.3f}, learner success on its rollouts {learner:.2f} "
          f"(best {run.best_success:.3f}), data {run.demos.num_steps} steps", flush=True)
    if not final:
        new.save(out / "data" / f"iter_{it:03d}.npz")
        run.demos.extend(new)
        for group in run.optimizer.param_groups:
            group["lr"] = config.lr * config.lr_decay ** it
        fit(run.policy, run.optimizer, run.demos, config.epochs_per_iteration, config, rng, writer,
            step0=config.bc_epochs + it * config.epochs_per_iteration, progress=config.progress,
            desc=f"refit {it}")
    run.iteration += 1
    _save(config, out, run)
