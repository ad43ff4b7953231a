"""``LiquidPPO``: stable-baselines3's PPO with a recurrent actor-critic of any registry kind.

Used like any SB3 algorithm::

    from liquidcontrol.rl import LiquidPPO
    model = LiquidPPO("cfc-ncp", env, units=30, n_steps=256, seq_len=32)
    model.learn(200_000, callback=...)
    action, state = model.predict(obs, state=state, episode_start=starts, deterministic=True)
    model.save("ppo.zip"); model = LiquidPPO.load("ppo.zip", env=env)

**Route taken.** It subclasses SB3's :class:`~stable_baselines3.PPO` and
:class:`~stable_baselines3.common.buffers.RolloutBuffer`; it does not fork
them, and it does not build on sb3-contrib's ``RecurrentPPO``. That one's
policy and buffer are made around ``nn.LSTM``: the state is an ``(h, c)``
pair per layer, sequences are split at episode starts and padded, and the
update steps the LSTM one step at a time whenever a sequence holds an episode
start. Our policies have one flat state tensor and a fused
``forward_sequence`` that resets the state *inside* a sequence, so the buffer
can cut fixed-length chunks of one env's steps and replay each minibatch in
one call, with no padding. From SB3 we keep the hyper-parameters and their
schedules, ``learn`` and its callbacks, the logger, GAE, ``VecEnv`` handling
and ``evaluate_policy`` compatibility; ``collect_rollouts`` (state, ``dt``,
statistics), ``train`` (sequence minibatches) and ``predict`` (a state) are
ours.

**dt.** Each step's ``dt`` is ``info["dt"]`` when the env reports one (a
robot's measured period), else the env's control period; it is stored with
the step and replayed in the update, so the liquid cell sees the same time
in both.

**save / load** write a zip of safetensors and JSON (no pickle, unlike SB3's
own ``save``), so loading a model somebody hands you runs no code.
"""

from __future__ import annotations

import io
import json
import math
import zipfile
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.type_aliases import GymEnv
from stable_baselines3.common.utils import FloatSchedule, explained_variance
from stable_baselines3.common.vec_env import VecEnv
from torch.nn import functional as F

from liquidcontrol import obs as obslib
from liquidcontrol.errors import LiquidControlError
from liquidcontrol.fileio import atomic_write_bytes
from liquidcontrol.kinds import KIND_NAMES
from liquidcontrol.policies.base import RecurrentPolicy
from liquidcontrol.policies.registry import policy_from_config
from liquidcontrol.rl.buffer import SequenceRolloutBuffer
from liquidcontrol.rl.policy import LiquidActorCritic

SAVE_FORMAT = "liquidcontrol-ppo/1"
#: Keyword arguments of :class:`LiquidActorCritic` that LiquidPPO passes through.
CRITIC_ARGS = ("critic", "critic_kind", "critic_units", "log_std_init", "normalize", "obs_std_floor")


LR_SCHEDULES = ("constant", "linear")


class LinearDecay:
    """Learning rate falling linearly from ``start`` to 0 over the run (SB3 passes the progress left, 1 -> 0)."""

    def __init__(self, start: float) -> None:
        self.start = float(start)

    def __call__(self, progress_remaining: float) -> float:
        return self.start * max(0.0, float(progress_remaining))


class NonFiniteLoss(LiquidControlError):
    """The PPO loss (or an advantage) became NaN or infinite: training stops before the step."""


class LiquidPPO(PPO):
    """PPO for the recurrent policies of :mod:`liquidcontrol.policies` (see the module docstring).

    ``policy`` is a model kind (``"cfc-ncp"``, ``"cfc"``, ``"ltc-ncp"``, ``"ltc"``, ``"lstm"``,
    ``"gru"``, ``"mlp"``); ``units`` its neurons (liquid kinds) or hidden units, or
    ``param_budget`` trainable parameters (baselines); ``actor`` an already built policy to
    fine-tune (e.g. loaded from an imitation bundle; its kind must be ``policy``).
    ``action_scale_init``: a fresh actor's output map starts at this scale, so its first actions
    are small (near the neutral command: hover, standstill); a given actor keeps its own.
    ``seq_len`` steps per replayed sequence (must divide ``n_steps``); ``critic_warmup_steps``:
    until this many env steps only the critic learns (the actor and its std stay fixed).
    The remaining keywords are PPO's, with the critic ones of :class:`LiquidActorCritic`.
    """

    policy_aliases = {kind: LiquidActorCritic for kind in KIND_NAMES}  # type: ignore[misc]
    policy: LiquidActorCritic  # type: ignore[assignment]
    rollout_buffer: SequenceRolloutBuffer  # type: ignore[assignment]

    def __init__(self, policy: str, env: GymEnv | str | None, *, units: int = 16, param_budget: int = 0,
                 actor: RecurrentPolicy | None = None, seq_len: int = 32, critic_warmup_steps: int = 0,
                 critic: str = "separate", critic_kind: str = "gru", critic_units: int = 32,
                 log_std_init: float = -0.5, normalize: str = "running", obs_std_floor: float = 0.05,
                 action_scale_init: float = 0.1, n_steps: int = 256, batch_size: int = 1024, learning_rate: Any = 3e-4,
                 lr_schedule: str = "constant", **kwargs: Any) -> None:
        if not isinstance(policy, str) or policy not in KIND_NAMES:
            raise LiquidControlError(f"unknown policy {policy!r}; LiquidPPO takes a model kind, one of {', '.join(KIND_NAMES)}.")
        if actor is not None and actor.kind != policy and not (policy.endswith("-ncp") and actor.kind == policy[:-4]):
            raise LiquidControlError(f"the given actor is a {actor.kind!r} policy, not {policy!r}.")
        if seq_len < 1 or n_steps % seq_len:
            raise LiquidControlError(f"seq_len {seq_len} must be at least 1 and divide n_steps {n_steps}.")
        if "policy_kwargs" in kwargs and kwargs["policy_kwargs"]:
            raise LiquidControlError("LiquidPPO takes its policy settings as keywords (units, critic, ...), "
                                     "not policy_kwargs.")
        if lr_schedule not in LR_SCHEDULES:
            raise LiquidControlError(f"lr_schedule {lr_schedule!r} is unknown; choose one of {', '.join(LR_SCHEDULES)}.")
        if lr_schedule != "constant" and not isinstance(learning_rate, (int, float)):
            raise LiquidControlError(f"lr_schedule {lr_schedule!r} needs a number as learning_rate, not a schedule.")
        self.lr_schedule_name = lr_schedule
        self.kind, self.units, self.param_budget = policy, int(units), int(param_budget)
        self.seq_len, self.critic_warmup_steps = int(seq_len), int(critic_warmup_steps)
        self.action_scale_init = float(action_scale_init)
        self._given_actor = actor
        self._given_hyper = {"learning_rate": learning_rate, "clip_range": kwargs.get("clip_range", 0.2),
                             "clip_range_vf": kwargs.get("clip_range_vf")}
        self._critic_kwargs: dict[str, Any] = {"critic": critic, "critic_kind": critic_kind, "critic_units": critic_units,
                               "log_std_init": log_std_init, "normalize": normalize, "obs_std_floor": obs_std_floor}
        kwargs.setdefault("policy_kwargs", None)
        rate = LinearDecay(learning_rate) if lr_schedule == "linear" else learning_rate
        super().__init__(policy, env, n_steps=n_steps,  # type: ignore[arg-type]
                         batch_size=batch_size, learning_rate=rate, **kwargs)

    @staticmethod
    def _wrap_env(env: GymEnv, verbose: int = 0, monitor_wrapper: bool = True) -> VecEnv:
        """SB3's wrapping (Monitor, DummyVecEnv) without ``VecTransposeImage``: our conv heads read
        images as H x W x 3, as the envs, the exported bundle and the robot give them."""
        from stable_baselines3.common.monitor import Monitor
        from stable_baselines3.common.vec_env import DummyVecEnv

        if isinstance(env, VecEnv):
            return env
        if monitor_wrapper:
            env = Monitor(env)
        return DummyVecEnv([lambda: env])  # type: ignore[list-item, return-value]

    # -- model --------------------------------------------------------------------------
    def _build_actor(self) -> RecurrentPolicy:
        space, act = self.observation_space, self.action_space
        if not isinstance(act, gym.spaces.Box) or len(act.shape) != 1:
            raise LiquidControlError(f"LiquidPPO needs a flat Box action space, got {act}.")
        obslib.check_space(space)
        if self._given_actor is not None:
            _check_actor_fits(self._given_actor, space, act)
            return self._given_actor
        from liquidcontrol.train.model import EnvProbe, build_policy

        probe = EnvProbe(space, int(act.shape[0]), [float(v) for v in act.low], [float(v) for v in act.high],
                         self._control_period())
        # the weights follow the model seed, as in imitation (build_policy seeds torch with it)
        actor = build_policy(self.kind, probe, self.units, 0 if self.seed is None else self.seed,
                             param_budget=self.param_budget)
        with torch.no_grad():  # small first actions, as SB3 initialises its action layer with gain 0.01
            actor.action_scale.fill_(self.action_scale_init)
        return actor

    def _control_period(self) -> float:
        if self.env is not None:
            try:
                period = self.env.get_attr("control_period", [0])[0]
                if isinstance(period, (int, float)) and period > 0:
                    return float(period)
            except AttributeError:
                pass
        return 0.05

    def _setup_model(self) -> None:
        self._setup_lr_schedule()
        self.set_random_seed(self.seed)
        if self.seed is not None:
            torch.manual_seed(self.seed)
        self.policy = LiquidActorCritic(self._build_actor(), self.observation_space, **self._critic_kwargs)
        self.policy.optimizer = torch.optim.Adam(self.policy.parameters(), lr=self.lr_schedule(1.0), eps=1e-5)
        self.rollout_buffer = SequenceRolloutBuffer(self.n_steps, self.observation_space, self.action_space,
                                                    self.policy.state_dim, self.gae_lambda, self.gamma, self.n_envs)
        self.clip_range = FloatSchedule(self.clip_range)
        if self.clip_range_vf is not None:
            self.clip_range_vf = FloatSchedule(self.clip_range_vf)
        self._batch_rng = np.random.default_rng(self.seed)
        self._last_state = self.policy.initial_state(self.n_envs)
        self._last_dt = np.full(self.n_envs, self._control_period(), np.float32)

    @property
    def actor(self) -> RecurrentPolicy:
        """The recurrent actor: the module the bundle exports (deterministic action = its output)."""
        return self.policy.actor

    def _setup_learn(self, total_timesteps: int, callback: Any = None, reset_num_timesteps: bool = True,
                     tb_log_name: str = "run", progress_bar: bool = False) -> Any:
        result = super()._setup_learn(total_timesteps, callback, reset_num_timesteps, tb_log_name, progress_bar)
        if reset_num_timesteps or self._last_state.shape[0] != self.n_envs:
            self._last_state = self.policy.initial_state(self.n_envs)
            self._last_dt = np.full(self.n_envs, self._control_period(), np.float32)
        return result

    # -- rollouts -------------------------------------------------------------------------
    def collect_rollouts(self, env: VecEnv, callback: BaseCallback, rollout_buffer: Any, n_rollout_steps: int) -> bool:
        assert self._last_obs is not None, "no previous observation"
        policy = self.policy
        policy.set_training_mode(False)
        policy.sync_stats()  # the statistics stay fixed through this rollout and its update
        rollout_buffer.reset()
        callback.on_rollout_start()
        low, high = self.action_space.low, self.action_space.high  # type: ignore[attr-defined]
        period = self._control_period()
        n_steps = 0
        new_obs, dones, state = self._last_obs, self._last_episode_starts, self._last_state
        while n_steps < n_rollout_steps:
            obs = self._last_obs
            _check_obs(obs, self.num_timesteps)
            policy.update_stats(obs)
            starts = np.asarray(self._last_episode_starts, np.float32)
            with torch.no_grad():
                state_in = self._episode_reset(self._last_state, starts)
                dt = torch.as_tensor(self._last_dt)[:, None]
                mean, value, state = policy.step(_as_tensor(obs), state_in, dt)
                dist = policy.distribution(mean)
                actions = dist.get_actions(deterministic=False)
                log_prob = dist.log_prob(actions)
            actions_np = actions.numpy()
            new_obs, rewards, dones, infos = env.step(np.clip(actions_np, low, high))  # type: ignore[assignment]
            self.num_timesteps += env.num_envs
            callback.update_locals(locals())
            if not callback.on_step():
                return False
            self._update_info_buffer(infos, dones)
            n_steps += 1
            rewards = np.asarray(rewards, np.float32).copy()
            for idx, done in enumerate(dones):
                if done and infos[idx].get("terminal_observation") is not None and infos[idx].get("TimeLimit.truncated", False):
                    terminal = infos[idx]["terminal_observation"]
                    with torch.no_grad():
                        dt_end = torch.full((1, 1), _info_dt(infos[idx], period))
                        _, v_end, _ = policy.step(_as_tensor(obslib.stack([terminal])), state[idx:idx + 1], dt_end)
                    rewards[idx] += self.gamma * float(v_end[0])
            rollout_buffer.add_step(obs, actions_np, rewards, starts, value, log_prob, self._last_state, self._last_dt)
            self._last_obs, self._last_episode_starts, self._last_state = new_obs, dones, state  # type: ignore[assignment]
            self._last_dt = np.array([_info_dt(info, period) if not d else period for info, d in zip(infos, dones)],
                                     np.float32)
        with torch.no_grad():
            _, last_values, _ = policy.step(_as_tensor(new_obs), self._episode_reset(state, np.asarray(dones)),
                                            torch.as_tensor(self._last_dt)[:, None])
        rollout_buffer.compute_returns_and_advantage(last_values=last_values, dones=np.asarray(dones))
        if not np.isfinite(rollout_buffer.advantages).all():
            raise NonFiniteLoss(f"the advantages became NaN or infinite after {self.num_timesteps} env steps "
                                "(a non-finite reward?); training stopped before the update.")
        callback.update_locals(locals())
        callback.on_rollout_end()
        return True

    @staticmethod
    def _episode_reset(state: torch.Tensor, starts: np.ndarray) -> torch.Tensor:
        """The state with the rows of envs that start an episode zeroed (the update replays the same)."""
        return state * (1.0 - torch.as_tensor(np.asarray(starts, np.float32))[:, None])

    # -- update ----------------------------------------------------------------------------
    def _clip_groups(self) -> list[list[torch.nn.Parameter]]:
        """Parameter groups whose gradients are norm-clipped each on its own: actor, separate critic."""
        named = list(self.policy.named_parameters())
        critic = [p for n, p in named if n.startswith("critic.")]
        if not critic:  # shared: one network, one norm
            return [[p for _, p in named]]
        return [[p for n, p in named if not n.startswith("critic.")], critic]

    def train(self) -> None:
        policy = self.policy
        policy.set_training_mode(True)
        self._update_learning_rate(policy.optimizer)
        clip_range = self.clip_range(self._current_progress_remaining)  # type: ignore[operator]
        clip_vf = None if self.clip_range_vf is None else self.clip_range_vf(self._current_progress_remaining)  # type: ignore[operator]
        warmup = self.num_timesteps <= self.critic_warmup_steps
        actor_params = [p for n, p in policy.named_parameters() if n.startswith("actor.") or n == "log_std"]
        clip_groups = self._clip_groups()
        grad_norms: list[float] = []
        pg_losses, value_losses, entropy_losses, clip_fractions, kls = [], [], [], [], []
        continue_training = True
        loss = torch.zeros(())
        for epoch in range(self.n_epochs):
            for batch in self.rollout_buffer.sequences(self.seq_len, self.batch_size, self._batch_rng):
                values, log_prob, entropy = policy.evaluate_sequences(
                    batch.observations, batch.states, batch.dts, batch.episode_starts, batch.actions)
                adv = batch.advantages
                if self.normalize_advantage and adv.numel() > 1:
                    adv = (adv - adv.mean()) / (adv.std() + 1e-8)
                ratio = torch.exp(log_prob - batch.old_log_prob)
                pg_loss = -torch.min(adv * ratio, adv * torch.clamp(ratio, 1 - clip_range, 1 + clip_range)).mean()
                if clip_vf is not None:
                    values = batch.old_values + torch.clamp(values - batch.old_values, -clip_vf, clip_vf)
                value_loss = F.mse_loss(batch.returns, values)
                entropy_loss = -entropy.mean()
                loss = self.vf_coef * value_loss if warmup else pg_loss + self.ent_coef * entropy_loss + self.vf_coef * value_loss
                if not torch.isfinite(loss):
                    raise NonFiniteLoss(f"the PPO loss became {float(loss)} at {self.num_timesteps} env steps "
                                        f"(policy {float(pg_loss)}, value {float(value_loss)}); training stopped "
                                        "before the step, so the weights of the last update are kept.")
                with torch.no_grad():
                    log_ratio = log_prob - batch.old_log_prob
                    kl = float(torch.mean((torch.exp(log_ratio) - 1) - log_ratio))
                pg_losses.append(float(pg_loss.detach()))
                value_losses.append(float(value_loss.detach()))
                entropy_losses.append(float(entropy_loss.detach()))
                clip_fractions.append(float(torch.mean((torch.abs(ratio - 1) > clip_range).float())))
                kls.append(kl)
                if self.target_kl is not None and kl > 1.5 * self.target_kl and not warmup:
                    continue_training = False
                    if self.verbose >= 1:
                        print(f"early stopping at epoch {epoch} (approx. KL {kl:.3f})")
                    break
                policy.optimizer.zero_grad()
                loss.backward()
                if warmup:
                    for p in actor_params:
                        p.grad = None
                # each network's gradient is clipped on its own: one global norm would let the
                # separate critic's value-loss gradient shrink the actor's step
                norms = [torch.nn.utils.clip_grad_norm_(group, self.max_grad_norm) for group in clip_groups]
                norm = torch.stack(norms).sum()
                grad_norms.append(float(norms[0]))
                if not torch.isfinite(norm):
                    raise NonFiniteLoss(f"the PPO gradients became non-finite at {self.num_timesteps} env steps; "
                                        "training stopped before the step, so the weights of the last update are kept.")
                policy.optimizer.step()
            self._n_updates += 1
            if not continue_training:
                break
        ev = explained_variance(self.rollout_buffer.values.flatten(), self.rollout_buffer.returns.flatten())
        log = self.logger.record
        log("train/entropy_loss", float(np.mean(entropy_losses)) if entropy_losses else math.nan)
        log("train/policy_gradient_loss", float(np.mean(pg_losses)) if pg_losses else math.nan)
        log("train/value_loss", float(np.mean(value_losses)) if value_losses else math.nan)
        log("train/approx_kl", float(np.mean(kls)) if kls else math.nan)
        log("train/clip_fraction", float(np.mean(clip_fractions)) if clip_fractions else math.nan)
        log("train/loss", float(loss.detach()))
        log("train/explained_variance", float(ev))
        log("train/std", float(torch.exp(policy.log_std.detach()).mean()))
        log("train/actor_grad_norm", float(np.mean(grad_norms)) if grad_norms else math.nan)
        log("train/critic_warmup", int(warmup))
        log("train/n_updates", self._n_updates, exclude="tensorboard")
        log("train/clip_range", clip_range)

    # -- inference -----------------------------------------------------------------------------
    def predict(self, observation: Any, state: Any = None, episode_start: np.ndarray | None = None,
                deterministic: bool = False) -> tuple[np.ndarray, Any]:
        """``(action, state)`` for one observation or a batch, as ``RecurrentPPO.predict``: pass the
        returned state back in, and ``episode_start`` (True where an episode begins) to reset it."""
        policy = self.policy
        x, single, batch = policy.actor._predict_input(observation)
        st = policy.initial_state(batch) if state is None else torch.as_tensor(
            np.asarray(state, np.float32).reshape(batch, policy.state_dim))
        if episode_start is not None:
            st = self._episode_reset(st, np.asarray(episode_start).reshape(batch))
        dt = torch.full((batch, 1), policy.actor.control_period)
        with torch.no_grad():
            mean, _, new_state = policy.step(x, st, dt)
            action = mean if deterministic else policy.distribution(mean).get_actions(deterministic=False)
        a = np.clip(action.numpy(), self.action_space.low, self.action_space.high)  # type: ignore[attr-defined]
        s = new_state.numpy()
        return (a[0], s[0]) if single else (a, s)

    # -- saving (no pickle) ----------------------------------------------------------------------
    def settings(self) -> dict[str, Any]:
        """Everything :meth:`load` needs to rebuild this model, as JSON."""
        hyper = {k: getattr(self, k) for k in ("n_steps", "batch_size", "n_epochs", "gamma", "gae_lambda", "ent_coef",
                                               "vf_coef", "max_grad_norm", "target_kl", "normalize_advantage", "seed")}
        for name, value in self._given_hyper.items():
            if value is not None and not isinstance(value, (int, float)):
                raise LiquidControlError(f"{name} is a schedule; save() keeps numbers only (pass a float).")
            hyper[name] = value
        return {"format": SAVE_FORMAT, "kind": self.kind, "units": self.units, "param_budget": self.param_budget,
                "seq_len": self.seq_len, "critic_warmup_steps": self.critic_warmup_steps,
                "action_scale_init": self.action_scale_init, "lr_schedule": self.lr_schedule_name,
                "critic_args": dict(self._critic_kwargs), "hyper": hyper,
                "actor_kind": self.actor.kind, "actor_config": self.actor.config(),
                "num_timesteps": int(self.num_timesteps), "n_updates": int(self._n_updates),
                "obs_stats": self.policy.stats_state(),
                "observation_space": space_to_json(self.observation_space),
                "action_space": space_to_json(self.action_space),
                "batch_rng": self._batch_rng.bit_generator.state}

    def save(self, path: str | Path, exclude: Any = None, include: Any = None) -> None:  # type: ignore[override]
        """Write a zip of ``settings.json``, ``policy.safetensors`` and the optimizer (safetensors + JSON), atomically."""
        from liquidcontrol.train.checkpoint import split_optimizer_state

        path = Path(path)
        if path.suffix != ".zip":
            path = path.with_suffix(".zip")
        tensors, values = split_optimizer_state(self.policy.optimizer.state_dict())
        state = {k: v.detach().contiguous().clone() for k, v in self.policy.state_dict().items()}
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("settings.json", json.dumps(self.settings(), allow_nan=False))
            zf.writestr("policy.safetensors", save_tensors(state))
            zf.writestr("optimizer.safetensors", save_tensors(tensors))
            zf.writestr("optimizer.json", json.dumps(values, allow_nan=False))
            zf.writestr("rng.safetensors", save_tensors({"torch": torch.get_rng_state()}))
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, buf.getvalue())

    @classmethod
    def load(cls, path: str | Path, env: GymEnv | None = None, device: Any = "cpu",  # type: ignore[override]
             custom_objects: Any = None, print_system_info: bool = False, force_reset: bool = True,
             **overrides: Any) -> LiquidPPO:
        """Rebuild a model :meth:`save` wrote (``overrides``: hyper-parameters to change, e.g. the learning rate)."""
        from liquidcontrol.train.checkpoint import join_optimizer_state

        path = Path(path)
        if not path.is_file() and path.with_suffix(".zip").is_file():
            path = path.with_suffix(".zip")
        try:
            with zipfile.ZipFile(path) as zf:
                settings = json.loads(zf.read("settings.json"))
                state = load_tensors(zf.read("policy.safetensors"))
                opt_tensors = load_tensors(zf.read("optimizer.safetensors"))
                opt_values = json.loads(zf.read("optimizer.json"))
                rng = load_tensors(zf.read("rng.safetensors")) if "rng.safetensors" in zf.namelist() else {}
        except FileNotFoundError:
            raise LiquidControlError(f"no saved LiquidPPO model at {path}.") from None
        except (OSError, zipfile.BadZipFile, KeyError, ValueError, SafetensorError) as exc:
            raise LiquidControlError(f"{path} is not a readable LiquidPPO model ({exc}).") from None
        if not isinstance(settings, dict) or settings.get("format") != SAVE_FORMAT:
            raise LiquidControlError(f"{path} is not a LiquidPPO model (format {settings.get('format')!r}, "
                                     f"expected {SAVE_FORMAT!r}).")
        actor = policy_from_config(settings["actor_kind"], settings["actor_config"])
        hyper = {k: v for k, v in settings["hyper"].items() if v is not None or k in ("target_kl", "clip_range_vf")}
        hyper["lr_schedule"] = settings.get("lr_schedule", "constant")
        hyper.update(overrides)
        model = cls(settings["kind"], env, units=settings["units"], param_budget=settings["param_budget"], actor=actor,
                    seq_len=settings["seq_len"], critic_warmup_steps=settings["critic_warmup_steps"],
                    action_scale_init=settings.get("action_scale_init", 0.1), _init_setup_model=env is not None, **settings["critic_args"], **hyper)
        if env is None:  # predict-only: the spaces come from the file
            model.observation_space = space_from_json(settings["observation_space"])
            model.action_space = space_from_json(settings["action_space"])
            model.n_envs = 1
            model._setup_model()
        try:
            model.policy.load_state_dict(state, strict=True)
            model.policy.optimizer.load_state_dict(join_optimizer_state(opt_tensors, opt_values))
        except (RuntimeError, KeyError, ValueError) as exc:
            raise LiquidControlError(f"the weights in {path} do not fit the model they describe ({exc}).") from None
        model.policy.load_stats_state(settings.get("obs_stats"))
        model.num_timesteps, model._n_updates = int(settings["num_timesteps"]), int(settings["n_updates"])
        if settings.get("batch_rng"):
            model._batch_rng.bit_generator.state = settings["batch_rng"]
        if "torch" in rng:  # the action noise goes on where it stopped, not from the seed again
            torch.set_rng_state(rng["torch"])
        return model


def space_to_json(space: gym.Space) -> dict[str, Any]:
    """A Box, or a Dict of Boxes, as JSON (what :func:`space_from_json` rebuilds)."""
    if isinstance(space, gym.spaces.Dict):
        return {"type": "Dict", "spaces": {k: space_to_json(v) for k, v in space.spaces.items()}}
    if isinstance(space, gym.spaces.Box):
        return {"type": "Box", "low": space.low.tolist(), "high": space.high.tolist(), "dtype": str(space.dtype)}
    raise LiquidControlError(f"cannot save a model for the observation or action space {space}.")


def space_from_json(data: dict[str, Any]) -> gym.Space:
    if data.get("type") == "Dict":
        return gym.spaces.Dict({k: space_from_json(v) for k, v in data["spaces"].items()})
    if data.get("type") == "Box":
        dtype = np.dtype(data["dtype"])
        return gym.spaces.Box(np.asarray(data["low"], dtype), np.asarray(data["high"], dtype), dtype=dtype)  # type: ignore[arg-type]
    raise LiquidControlError(f"unknown saved space {data.get('type')!r}.")


def _check_actor_fits(actor: RecurrentPolicy, space: gym.Space, act: gym.spaces.Box) -> None:
    """One clear error when a given actor (an imitation bundle) does not match the env's spaces."""
    if actor.act_dim != int(act.shape[0]):
        raise LiquidControlError(f"the policy outputs {actor.act_dim} actions but the env takes {int(act.shape[0])}.")
    if isinstance(space, gym.spaces.Dict):
        keys = sorted(space.spaces)
        if actor.encoder is None or actor.encoder.keys != keys:
            have = actor.encoder.keys if actor.encoder is not None else "a flat vector"
            raise LiquidControlError(f"the policy reads {have} but the env observes keys {keys}.")
        for s in actor.encoder.spec:
            if list(space.spaces[s["key"]].shape or ()) != s["shape"]:
                raise LiquidControlError(f"observation {s['key']!r}: the policy reads shape {s['shape']}, the env "
                                         f"gives {list(space.spaces[s['key']].shape or ())}.")
        return
    width = int(np.prod(space.shape or (0,)))
    if actor.encoder is not None or actor.obs_dim != width:
        raise LiquidControlError(f"the policy reads {actor.obs_dim if actor.encoder is None else 'a dict'} "
                                 f"observations but the env gives {width}.")


def _as_tensor(obs: Any) -> Any:
    if isinstance(obs, dict):
        return {k: torch.as_tensor(np.asarray(v)) for k, v in obs.items()}
    return torch.as_tensor(np.asarray(obs, np.float32))


def _check_obs(obs: Any, steps: int) -> None:
    if not obslib.finite(obs):
        raise LiquidControlError(f"the env returned a NaN or infinite observation after {steps} env steps; "
                                 "training stopped (check the env or its wrappers).")


def _info_dt(info: dict[str, Any], period: float) -> float:
    """The measured seconds since the previous step, when the env reports them, else the control period."""
    value = info.get("dt")
    if isinstance(value, (int, float)) and math.isfinite(value) and value > 0:
        return float(value)
    return period
