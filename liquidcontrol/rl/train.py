"""``liquidcontrol train ppo --task NAME``: PPO on any registered task, from scratch or from an imitation bundle.

The run folder (``--out``) holds:

- ``checkpoint/model.zip`` (:meth:`LiquidPPO.save`, no pickle) and
  ``checkpoint/progress.json`` (history, best success), rewritten after every
  evaluation, so ``--resume`` continues from the last one (with fresh
  episodes: the envs restart, the weights, optimizer, statistics and step
  count carry on);
- ``best/``: the actor of the best evaluation, as an imitation checkpoint
  (``liquidcontrol export best --out BUNDLE`` works on it as on a DAgger run);
- ``bundle/``: the exported ONNX bundle of ``best/``, written only if it
  passes the ONNX check (``--check-episodes``);
- ``history.csv`` / ``history.json``: success vs env steps and wall time;
- ``tb/``: TensorBoard (SB3's rollout and train scalars, ``eval/success``).

Episodes follow the seed plan (:mod:`liquidcontrol.seeds`): env ``i`` of the
vector runs the training seeds of round ``i + 1`` one after another, the
evaluations the fixed validation seeds (the final held-out numbers come from
``liquidcontrol evaluate`` on the evaluation seeds).
"""

from __future__ import annotations

import csv
import io
import json
import math
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3.common.callbacks import BaseCallback

from liquidcontrol.config import option
from liquidcontrol.errors import LiquidControlError
from liquidcontrol.fileio import atomic_write_json, atomic_write_text
from liquidcontrol.seeds import MAX_ROUNDS, PER_ROUND, training_seeds
from liquidcontrol.tasks import DEFAULT_TASK, Task, get_task

MODEL_FILE = "model.zip"
PROGRESS_FILE = "progress.json"
#: Fields that define the model and its data: a resumed run must keep them.
RESUME_MUST_MATCH = ("task", "kind", "units", "param_budget", "seed", "critic", "critic_kind", "critic_units",
                     "init_from", "train_perturbations", "n_envs", "n_steps", "seq_len")


@dataclass
class PPOConfig:
    """PPO (stable-baselines3) with a recurrent liquid or baseline policy on a task."""

    task: str = option(DEFAULT_TASK, "task name (see liquidcontrol.tasks)")
    kind: str = option("", "model kind; empty = the task's default (or the kind of --init-from)")
    units: int = option(0, "neurons (liquid kinds) or hidden units (baselines); 0 = the task's default")
    param_budget: int = option(0, "baselines only: about this many trainable parameters instead of --units")
    init_from: str = option("", "fine-tune this imitation bundle (folder with card.json) or checkpoint (progress.json)")
    seed: int = option(0, "training seed (weights, sampling, training episodes)")
    steps: int = option(1_000_000, "env steps to train for (in total, counting a resumed run's)")
    n_envs: int = option(8, "envs stepped in lockstep (SB3 DummyVecEnv)")
    n_steps: int = option(256, "steps per env per rollout")
    seq_len: int = option(32, "steps per replayed sequence in the update (divides n_steps)")
    batch_size: int = option(2048, "steps per minibatch (batch_size / seq_len sequences)")
    n_epochs: int = option(5, "passes over each rollout")
    lr: float = option(3e-4, "Adam learning rate")
    lr_schedule: str = option("constant", "constant, or linear (from --lr down to 0 at --steps); like --lr, give it "
                                          "again with --resume")
    gamma: float = option(0.99, "discount")
    gae_lambda: float = option(0.95, "GAE lambda")
    clip_range: float = option(0.2, "PPO clip range")
    ent_coef: float = option(0.0, "entropy bonus")
    vf_coef: float = option(0.5, "value loss weight")
    max_grad_norm: float = option(0.5, "gradient norm clip")
    target_kl: float = option(0.0, "stop an update's epochs early above 1.5 x this KL (0 = never)")
    log_std_init: float = option(-0.5, "initial log std of the Gaussian actions (fine-tuning: try -1.5)")
    critic: str = option("separate", "separate (own recurrent core) or shared (value head on the actor's state)")
    critic_kind: str = option("gru", "model kind of a separate critic")
    critic_units: int = option(32, "hidden units of a separate critic")
    normalize: str = option("", "running (update observation statistics from rollouts) or frozen; empty = "
                                "running from scratch, frozen when fine-tuning")
    critic_warmup_steps: int = option(-1, "env steps in which only the critic learns; -1 = 0 from scratch, "
                                          "5 rollouts when fine-tuning")
    train_perturbations: list[str] = option([], "perturbations ('name:severity') on the episodes with an even seed")
    eval_every: int = option(50_000, "env steps between evaluations (and checkpoints)")
    stop_success: float = option(0.0, "stop once an evaluation reaches this validation success (0 = train all --steps)")
    eval_episodes: int = option(100, "episodes on the fixed validation seeds per evaluation")
    check_episodes: int = option(100, "held-out episodes of the ONNX check of the exported bundle (0 = no export)")
    threads: int = option(1, "torch threads")
    out: str = option("runs/ppo", "output folder")
    resume: bool = option(False, "continue the run in --out from its last checkpoint")
    progress: bool = option(True, "show a progress bar")


def resolve(config: PPOConfig) -> tuple[PPOConfig, Task, Any]:
    """Fill the task's defaults and check the config; returns the actor to fine-tune (or None)."""
    from liquidcontrol.policies.registry import is_liquid
    from liquidcontrol.rl.policy import CRITIC_MODES, NORMALIZE_MODES

    task = get_task(config.task)
    actor = _load_actor(config.init_from) if config.init_from else None
    changes: dict[str, Any] = {}
    if actor is not None:
        if config.kind and config.kind != actor.kind:
            raise LiquidControlError(f"--kind {config.kind} differs from the {actor.kind} policy in {config.init_from}.")
        changes["kind"] = actor.kind
    elif not config.kind:
        changes["kind"] = task.kind
    if not config.units:
        changes["units"] = task.units
    if not config.normalize:
        changes["normalize"] = "frozen" if actor is not None else "running"
    if config.critic_warmup_steps < 0:
        changes["critic_warmup_steps"] = 5 * config.n_envs * config.n_steps if actor is not None else 0
    resolved = replace(config, **changes)
    is_liquid(resolved.kind)  # unknown kinds get the registry's error
    if resolved.critic not in CRITIC_MODES:
        raise LiquidControlError(f"--critic {resolved.critic!r} is unknown; choose one of {', '.join(CRITIC_MODES)}.")
    from liquidcontrol.rl.ppo import LR_SCHEDULES

    if resolved.lr_schedule not in LR_SCHEDULES:
        raise LiquidControlError(f"--lr-schedule {resolved.lr_schedule!r} is unknown; choose one of "
                                 f"{', '.join(LR_SCHEDULES)}.")
    if resolved.normalize not in NORMALIZE_MODES:
        raise LiquidControlError(f"--normalize {resolved.normalize!r} is unknown; choose one of {', '.join(NORMALIZE_MODES)}.")
    for name in ("steps", "n_envs", "n_steps", "seq_len", "batch_size", "n_epochs", "eval_every"):
        if getattr(resolved, name) < 1:
            raise LiquidControlError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(resolved, name)}.")
    if not 0.0 <= resolved.stop_success <= 1.0:
        raise LiquidControlError(f"--stop-success must be a success rate in [0, 1], got {resolved.stop_success}.")
    if resolved.n_steps % resolved.seq_len:
        raise LiquidControlError(f"--seq-len {resolved.seq_len} must divide --n-steps {resolved.n_steps}.")
    if resolved.n_envs >= MAX_ROUNDS:
        raise LiquidControlError(f"--n-envs must be below {MAX_ROUNDS} (each env runs one round of the seed plan).")
    from liquidcontrol.perturb.registry import parse_item

    task.check_train_perturbations([parse_item(p)[0] for p in resolved.train_perturbations])
    return resolved, task, actor


def _load_actor(source: str) -> Any:
    path = Path(source)
    if (path / "card.json").is_file():
        from liquidcontrol.export.bundle import load_policy

        return load_policy(path).train()
    if (path / "progress.json").is_file():
        from liquidcontrol.train.checkpoint import load_checkpoint

        return load_checkpoint(path)[0].train()
    raise LiquidControlError(f"--init-from {source}: not a bundle folder (card.json) or a checkpoint folder "
                             "(progress.json).")


class PlanSeeds(gym.Wrapper):
    """Resets env ``index`` with the training seeds of round ``index + 1``, one after another."""

    def __init__(self, env: gym.Env, train_seed: int, index: int, start: int = 0) -> None:
        super().__init__(env)
        self.first = training_seeds(train_seed, index + 1, 1)[0]
        self.episode = start

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict]:
        if self.episode >= PER_ROUND:
            raise LiquidControlError(f"this env ran all {PER_ROUND} episodes its round of the seed plan holds; "
                                     "use more --n-envs.")
        seed, self.episode = self.first + self.episode, self.episode + 1
        return self.env.reset(seed=seed, options=options)


def make_vec_env(task: Task, config: PPOConfig, start_episode: int = 0) -> Any:
    """The training envs: the task's env (perturbed on even seeds if asked), seeded from the plan, monitored."""
    from stable_baselines3.common.vec_env import DummyVecEnv, VecMonitor

    import liquidcontrol.envs  # noqa: F401 - registers the ids

    def factory(index: int) -> Any:
        def make() -> gym.Env:
            env: gym.Env = gym.make(task.env_id, **task.env_kwargs)
            if config.train_perturbations:
                from liquidcontrol.perturb import apply_perturbations
                from liquidcontrol.perturb.mix import EpisodeMix

                twin = apply_perturbations(gym.make(task.env_id, **task.env_kwargs), config.train_perturbations,
                                           [config.seed])
                env = EpisodeMix(env, twin)
            return PlanSeeds(env, config.seed, index, start_episode)
        return make

    return VecMonitor(DummyVecEnv([factory(i) for i in range(config.n_envs)]), info_keywords=("is_success",))


def build_model(config: PPOConfig, env: Any, actor: Any) -> Any:
    from liquidcontrol.rl.ppo import LiquidPPO

    return LiquidPPO(
        config.kind, env, units=config.units, param_budget=config.param_budget, actor=actor,
        seq_len=config.seq_len, critic_warmup_steps=config.critic_warmup_steps, critic=config.critic,
        critic_kind=config.critic_kind, critic_units=config.critic_units, log_std_init=config.log_std_init,
        normalize=config.normalize, n_steps=config.n_steps, batch_size=config.batch_size, n_epochs=config.n_epochs,
        learning_rate=config.lr, lr_schedule=config.lr_schedule, gamma=config.gamma, gae_lambda=config.gae_lambda, clip_range=config.clip_range,
        ent_coef=config.ent_coef, vf_coef=config.vf_coef, max_grad_norm=config.max_grad_norm,
        target_kl=config.target_kl or None, seed=config.seed, verbose=0,
        tensorboard_log=str(Path(config.out) / "tb"))


def train(config: PPOConfig) -> dict[str, Any]:
    """Run PPO; returns a summary (best validation success, history, paths, time)."""
    config, task, actor = resolve(config)
    torch.set_num_threads(max(1, config.threads))
    out = Path(config.out)
    folder = out / "checkpoint"
    state: dict[str, Any] = {"history": [], "best_success": -1.0, "wall_seconds": 0.0, "episodes": 0}
    if config.resume:
        state, model = _resume(config, task, folder)
    else:
        if (folder / PROGRESS_FILE).exists():
            raise LiquidControlError(f"{out} already holds a PPO run; pass --resume to continue it or choose another --out.")
        model = build_model(config, make_vec_env(task, config), actor)
    callback = EvalCheckpoint(config, task, out, state)
    done = state["history"][-1] if state["history"] else {}
    if 0 < config.stop_success <= done.get("validation_success", -1.0):
        callback.stopped = True  # a resumed run that had already reached --stop-success: nothing to train
    remaining = config.steps - model.num_timesteps if not callback.stopped else 0
    if remaining > 0:
        try:
            model.learn(remaining, callback=callback, reset_num_timesteps=not config.resume,
                        tb_log_name="ppo", progress_bar=False)
        except KeyboardInterrupt:
            callback.evaluate_and_save(final=False)
            print(f"\ninterrupted: checkpoint saved in {folder}; continue with --resume")
            raise
    last = state["history"][-1] if state["history"] else {}
    if callback.stopped:
        print(f"validation success {last['validation_success']:.3f} reached --stop-success {config.stop_success}: "
              f"stopped at {last['steps']} env steps", flush=True)
    elif last.get("steps") != model.num_timesteps or last.get("updates") != model._n_updates:
        callback.evaluate_and_save(final=True)  # the last update, evaluated and saved
    callback.close()
    summary: dict[str, Any] = {"best": str(out / "best"), "best_success": state["best_success"],
                               "history": state["history"], "train_seconds": state["wall_seconds"],
                               "steps": int(last["steps"]) if callback.stopped else int(model.num_timesteps),
                               "stopped_at_success": callback.stopped, "config": asdict(config)}
    if config.check_episodes > 0:
        summary["bundle"], summary["onnx_check"] = export_best(out, task, config)
    atomic_write_json(out / "summary.json", summary)
    return summary


def _resume(config: PPOConfig, task: Task, folder: Path) -> tuple[dict[str, Any], Any]:
    from liquidcontrol.rl.ppo import LiquidPPO

    path = folder / PROGRESS_FILE
    if not path.is_file():
        raise LiquidControlError(f"nothing to resume: {folder} holds no PPO checkpoint.")
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise LiquidControlError(f"{path} is corrupt ({exc}).") from None
    saved = record.get("config", {})
    new = asdict(config)
    refused = [k for k in RESUME_MUST_MATCH if k in saved and saved[k] != new[k]]
    if refused:
        what = "; ".join(f"{k}: saved {saved[k]!r}, new {new[k]!r}" for k in refused)
        raise LiquidControlError(f"cannot resume {folder.parent}: it was trained with other settings ({what}).")
    env = make_vec_env(task, config, start_episode=int(record.get("episodes_per_env", 0)))
    model = LiquidPPO.load(folder / MODEL_FILE, env=env, learning_rate=config.lr, lr_schedule=config.lr_schedule,
                           n_epochs=config.n_epochs,
                           batch_size=config.batch_size, ent_coef=config.ent_coef, clip_range=config.clip_range,
                           gamma=config.gamma, gae_lambda=config.gae_lambda, vf_coef=config.vf_coef,
                           max_grad_norm=config.max_grad_norm, target_kl=config.target_kl or None,
                           tensorboard_log=str(Path(config.out) / "tb"))
    print(f"resuming {folder.parent}: {model.num_timesteps} env steps done, best validation success "
          f"{record.get('best_success')}", flush=True)
    state = {k: record[k] for k in ("history", "best_success", "wall_seconds")}
    state["episodes"] = int(record.get("episodes_per_env", 0))
    return state, model


class EvalCheckpoint(BaseCallback):
    """Every ``eval_every`` env steps: validation success (``info["is_success"]``), best actor, checkpoint."""

    def __init__(self, config: PPOConfig, task: Task, out: Path, state: dict[str, Any]) -> None:
        super().__init__()
        self.config, self.task, self.out, self.state = config, task, out, state
        self.started = time.perf_counter()
        self.wall0 = float(state["wall_seconds"])
        self.next_eval = 0
        self.bar: Any = None
        self.stopped = False  # an evaluation reached config.stop_success

    def _on_training_start(self) -> None:
        from liquidcontrol.progress import make_bar

        done = int(self.model.num_timesteps)
        self.next_eval = (done // self.config.eval_every + 1) * self.config.eval_every
        self.bar = make_bar(self.config.steps, f"PPO {self.config.kind} on {self.task.name}", self.config.progress,
                            unit="step")
        if self.bar is not None:
            self.bar.update(done)
        if not self.state["history"]:  # the starting point (a fine-tuned bundle's success before PPO)
            self.evaluate_and_save(final=False)

    def _on_step(self) -> bool:
        if self.bar is not None:
            self.bar.update(self.training_env.num_envs)
        return not self.stopped  # False ends learn() before any further update

    def _on_rollout_start(self) -> None:
        # Here the previous rollout's update is done: the weights saved match the step count.
        if self.model.num_timesteps >= self.next_eval:
            self.evaluate_and_save(final=False)
            self.next_eval += self.config.eval_every * max(1, math.ceil(
                (self.model.num_timesteps - self.next_eval + 1) / self.config.eval_every))

    def evaluate_and_save(self, final: bool) -> None:
        from liquidcontrol.train.checkpoint import save_checkpoint
        from liquidcontrol.train.dagger import validate

        model: Any = self.model
        config = self.config
        actor = model.actor  # its statistics are those of the rollout in progress (not re-synced here)
        actor.eval()
        success = validate(self.task, actor, config.eval_episodes, n_envs=min(16, config.eval_episodes))
        actor.train()
        wall = self.wall0 + time.perf_counter() - self.started
        buffer = [float(e["is_success"]) for e in model.ep_info_buffer if "is_success" in e]
        record = {"steps": int(model.num_timesteps), "updates": int(model._n_updates), "wall_seconds": round(wall, 1),
                  "validation_success": success,
                  "rollout_success": float(np.mean(buffer)) if buffer else None,
                  "rollout_return": float(np.mean([e["r"] for e in model.ep_info_buffer])) if model.ep_info_buffer else None}
        self.state["history"].append(record)
        self.state["wall_seconds"] = wall
        model.logger.record("eval/success", success)
        model.logger.dump(model.num_timesteps)
        recipe = {"algo": "ppo", **asdict(config)}
        if success >= self.state["best_success"]:
            self.state["best_success"] = success
            save_checkpoint(self.out / "best", actor, {"steps": record["steps"], "validation_success": success,
                                                       "recipe": recipe})
        folder = self.out / "checkpoint"
        model.save(folder / MODEL_FILE)
        episodes = max(int(e) for e in model.env.get_attr("episode"))
        atomic_write_json(folder / PROGRESS_FILE, {**self.state, "config": asdict(config), "episodes_per_env": episodes})
        write_history(self.out, self.state["history"])
        if 0 < config.stop_success <= success and not final:
            self.stopped = True
        print(f"PPO {config.kind} on {self.task.name}: {record['steps']} steps, {wall:.0f} s, validation success "
              f"{success:.3f} (best {self.state['best_success']:.3f}), rollout success {record['rollout_success']}",
              flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def write_history(out: Path, history: list[dict[str, Any]]) -> None:
    """``history.json`` and ``history.csv``: success vs env steps and wall time."""
    atomic_write_json(out / "history.json", history)
    text = io.StringIO()
    fields = ["steps", "updates", "wall_seconds", "validation_success", "rollout_success", "rollout_return"]
    writer = csv.DictWriter(text, fieldnames=fields)
    writer.writeheader()
    for row in history:
        writer.writerow({k: row.get(k) for k in fields})
    atomic_write_text(out / "history.csv", text.getvalue())


def export_best(out: Path, task: Task, config: PPOConfig) -> tuple[str, dict[str, Any]]:
    """Export ``best/`` to ``bundle/`` through the ONNX check (the bundle is written only if it passes)."""
    from liquidcontrol.export.cli import _save_checked
    from liquidcontrol.export.layouts import env_card_fields
    from liquidcontrol.train.checkpoint import load_checkpoint

    policy, record, _ = load_checkpoint(out / "best")
    fields = {**env_card_fields(task.env_id, task.env_kwargs), "task": task.name,
              "training": {"recipe": record.get("recipe"), "best_steps": record.get("steps"),
                           "best_validation_success": record.get("validation_success")}}
    args = SimpleNamespace(exporter="dynamo", precision="fp32", action_tolerance=None)
    card = _save_checked(out / "bundle", policy.eval(), fields, args, config.check_episodes)  # type: ignore[arg-type]
    return str(out / "bundle"), dict(card.evaluation.get("onnx_check", {}))
