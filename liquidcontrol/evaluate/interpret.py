"""What a camera policy looks at, and what its neurons do: saliency maps and neuron traces.

For a policy with a conv head (:class:`liquidcontrol.policies.encoders.ConvHead`)
one clean episode is driven by the torch policy and recorded:

- **saliency** by VisualBackprop (Bojarski et al. 2016, the method of the
  Neural Circuit Policies paper): the channel-mean of each conv layer's
  activations, from the deepest layer up, is upsampled to the layer below
  and multiplied with it, down to the input resolution; each map is scaled
  to [0, 1]. It shows which pixels feed the features the cell receives.
- **neuron traces**: the cell's state (for a wired CfC all neurons in layer
  order inter | command | motor) at every step, with the action.

Files (in the report folder): ``saliency.png`` (frames above their
saliency overlays), ``neurons.png`` (a heat map of the neurons over time and
the action), ``saliency.mp4`` (camera, overlay, and the neuron heat map
with a cursor, one frame per control step).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

GRID_FRAMES = 8


def has_conv_head(policy: Any) -> bool:
    from liquidcontrol.policies.encoders import ConvHead

    enc = getattr(policy, "encoder", None)
    return enc is not None and any(isinstance(e, ConvHead) for e in enc.encoders.values())


def visual_backprop(head: Any, images: Any) -> np.ndarray:
    """VisualBackprop maps [N, H, W] in [0, 1] of uint8 images [N, H, W, 3] through ``head``'s convs."""
    import torch
    import torch.nn.functional as F

    x = torch.as_tensor(images).to(torch.float32).permute(0, 3, 1, 2) * (1.0 / 127.5) - 1.0  # as ConvHead
    means = []
    with torch.no_grad():
        for layer in head.convs:
            x = layer(x)
            if isinstance(layer, torch.nn.ReLU):
                means.append(x.mean(1, keepdim=True))
        mask = means[-1]
        for below in reversed(means[:-1]):
            mask = F.interpolate(mask, size=below.shape[-2:], mode="bilinear", align_corners=False) * below
        mask = F.interpolate(mask, size=images.shape[1:3], mode="bilinear", align_corners=False)[:, 0]
        lo = mask.flatten(1).min(1).values[:, None, None]
        hi = mask.flatten(1).max(1).values[:, None, None]
        return ((mask - lo) / (hi - lo).clamp(min=1e-12)).numpy()


def _episode(policy: Any, task: Any, seed: int, max_steps: int) -> dict[str, Any]:
    import gymnasium as gym
    import torch

    env = gym.make(task.env_id, **task.env_kwargs)
    obs, _ = env.reset(seed=seed)
    period = float(getattr(env.unwrapped, "control_period", 0.05))
    state = policy.initial_state(1)
    key = next(k for k, v in obs.items() if np.asarray(v).dtype == np.uint8)
    images, states, actions = [], [], []
    policy.eval()
    with torch.no_grad():
        for _ in range(max_steps):
            batch = {k: torch.as_tensor(np.asarray(v))[None] for k, v in obs.items()}
            action, state = policy(batch, state, torch.full((1, 1), period))
            a = action[0].numpy()
            images.append(np.asarray(obs[key]))
            states.append(state[0].numpy().copy())
            actions.append(a.copy())
            obs, _, terminated, truncated, info = env.step(a)
            if terminated or truncated:
                break
    env.close()
    return {"key": key, "images": np.stack(images), "states": np.stack(states), "actions": np.stack(actions),
            "period": period, "success": bool(info.get("is_success", False))}


def _overlay(image: np.ndarray, saliency: np.ndarray) -> np.ndarray:
    import cv2

    heat = cv2.applyColorMap((saliency * 255).astype(np.uint8), cv2.COLORMAP_JET)[..., ::-1]
    return (0.5 * image + 0.5 * heat).astype(np.uint8)


def _layer_bounds(policy: Any) -> list[int]:
    """State indices where the wired CfC's layers (inter | command | motor) begin, after the first."""
    if getattr(policy, "kind", "") != "cfc-ncp":
        return []
    sizes = list(getattr(getattr(getattr(policy, "model", None), "core", None), "sizes", []) or [])
    return [int(b) for b in np.cumsum(sizes)[:-1]] if len(sizes) == 3 else []


def write_interpretation(policy: Any, task: Any, folder: Path, seed: int = 0, max_steps: int = 600) -> dict[str, Any] | None:
    """Write the files listed in the module docstring for one episode; None if the policy has no conv head."""
    import cv2
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from liquidcontrol.evaluate.video import write_video
    from liquidcontrol.fileio import atomic_write_bytes

    if not has_conv_head(policy):
        return None
    folder.mkdir(parents=True, exist_ok=True)
    ep = _episode(policy, task, seed, max_steps)
    images, states, actions = ep["images"], ep["states"], ep["actions"]
    sal = visual_backprop(policy.encoder.encoders[ep["key"]], images)
    overlays = np.stack([_overlay(i, s) for i, s in zip(images, sal)])

    picks = np.linspace(0, len(images) - 1, GRID_FRAMES).round().astype(int)
    grid = np.concatenate([np.concatenate([images[i] for i in picks], axis=1),
                           np.concatenate([overlays[i] for i in picks], axis=1)], axis=0)
    grid = cv2.resize(grid, (grid.shape[1] * 2, grid.shape[0] * 2), interpolation=cv2.INTER_NEAREST)
    ok, buf = cv2.imencode(".png", grid[..., ::-1])
    atomic_write_bytes(folder / "saliency.png", buf.tobytes())

    t = np.arange(len(states)) * ep["period"]
    fig, (ax0, ax1) = plt.subplots(2, 1, figsize=(9, 5.5), sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    span = np.abs(states).max(0).clip(min=1e-9)
    ax0.imshow((states / span).T, aspect="auto", cmap="coolwarm", vmin=-1, vmax=1,
               extent=(t[0], t[-1] + ep["period"], states.shape[1] - 0.5, -0.5), interpolation="nearest")
    for b in _layer_bounds(policy):
        ax0.axhline(b - 0.5, color="k", lw=0.8)
    ax0.set_ylabel("neuron (inter | command | motor)" if _layer_bounds(policy) else "state index")
    ax0.set_title(f"{policy.kind} state over one episode (each neuron scaled to its largest |value|)")
    ax1.plot(t, actions)
    ax1.set_xlabel("time (s)")
    ax1.set_ylabel("action")
    fig.tight_layout()
    from io import BytesIO

    out = BytesIO()
    fig.savefig(out, format="png", dpi=100)
    plt.close(fig)
    atomic_write_bytes(folder / "neurons.png", out.getvalue())

    # Video: camera | overlay on top, the neuron heat map with a cursor below.
    scale = 3
    h, w = images.shape[1] * scale, images.shape[2] * scale
    heat = ((states / span).T + 1.0) * 127.5
    heat_img = cv2.applyColorMap(heat.clip(0, 255).astype(np.uint8), cv2.COLORMAP_COOL)[..., ::-1]
    heat_img = cv2.resize(heat_img, (2 * w, 8 * states.shape[1]), interpolation=cv2.INTER_NEAREST)
    frames = []
    for k in range(len(images)):
        top = np.concatenate([cv2.resize(images[k], (w, h), interpolation=cv2.INTER_NEAREST),
                              cv2.resize(overlays[k], (w, h), interpolation=cv2.INTER_NEAREST)], axis=1)
        bottom = heat_img.copy()
        x = int((k + 0.5) / len(images) * bottom.shape[1])
        bottom[:, max(x - 1, 0):x + 1] = 255
        frames.append(np.concatenate([top, bottom], axis=0))
    video = write_video(frames, folder / "saliency.mp4", fps=1.0 / ep["period"])
    return {"saliency": "saliency.png", "neurons": "neurons.png", "video": Path(video).name,
            "episode_steps": len(images), "episode_success": ep["success"]}
