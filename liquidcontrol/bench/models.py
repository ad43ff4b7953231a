"""Model speed: our wired CfC (torch, onnxruntime, numpy) against ncps 1.0.1.

For AutoNCP(19, 1) with 32 inputs, AutoNCP(12, 2) with 8 inputs and
AutoNCP(30, 4) with 16 inputs, on one thread and in one run:

- single-step latency at batch 1 (median and p10, microseconds): ours in
  torch eager, onnxruntime and numpy (through :class:`PolicyRunner`, input
  checks included) vs ``ncps.torch.CfC`` eager with the same wiring;
- training throughput, batch 64 x 32 steps, forward + backward (sequences/s).

Ratios are ncps time / our time (latency) and our rate / ncps rate
(training): bigger is better. Targets: numpy or onnxruntime >= 20x, training
>= 5x. Timings are noisy on a shared machine; nothing is asserted.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from liquidcontrol.fileio import atomic_write_json

CASES = [(19, 1, 32), (12, 2, 8), (30, 4, 16)]  # (units, outputs, inputs)
LATENCY_PATHS = ("ours_torch", "ours_onnxruntime", "ours_numpy", "ncps_torch")


@dataclass
class CaseResult:
    """One wiring's figures: latency in microseconds, training in sequences per second."""

    units: int
    outputs: int
    inputs: int
    params_ours: int = 0
    params_ncps: int = 0
    latency_us: dict[str, dict[str, float]] = field(default_factory=dict)
    train_seq_per_s: dict[str, float] = field(default_factory=dict)
    ratios: dict[str, float] = field(default_factory=dict)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true",
                        help="a few repetitions and the fast torchscript exporter (smoke test; figures meaningless)")
    parser.add_argument("--json", default=None, metavar="PATH", help="also write the results as JSON to PATH")
    parser.add_argument("--steps", type=int, default=3000, help="timed single steps per path (default 3000)")
    parser.add_argument("--train-iters", type=int, default=10, help="timed training iterations per model (default 10)")


def run(args: argparse.Namespace) -> int:
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the robot-like setting, and fair to both sides
    steps, iters = (50, 1) if args.quick else (max(args.steps, 10), max(args.train_iters, 1))
    exporter = "torchscript" if args.quick else "dynamo"
    try:
        results = [bench_case(u, o, i, steps, iters, exporter) for u, o, i in CASES]
    finally:
        torch.set_num_threads(threads)
    print(format_table(results))
    if args.json:
        atomic_write_json(args.json, {"steps": steps, "train_iters": iters, "threads": 1, "exporter": exporter,
                                      "cases": [asdict(r) for r in results]})
    return 0


def bench_case(units: int, outputs: int, inputs: int, steps: int, iters: int,
               exporter: str = "dynamo") -> CaseResult:
    """Measure every path for one AutoNCP(units, outputs) wiring with ``inputs`` inputs."""
    import torch

    from liquidcontrol.runtime.runner import PolicyRunner

    ours, ref = build_ours(units, outputs, inputs), build_ncps(units, outputs, inputs)
    res = CaseResult(units, outputs, inputs, params_ours=_core_params(ours),
                     params_ncps=sum(p.numel() for p in ref.parameters() if p.requires_grad))
    obs = np.random.default_rng(0).standard_normal(inputs).astype(np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        from liquidcontrol.export.bundle import save_bundle

        save_bundle(tmp, ours, {"env_id": "bench"}, exporter=exporter)
        runners = {b: PolicyRunner(tmp, backend=b) for b in ("onnxruntime", "numpy")}
    with torch.no_grad():
        paths = {
            "ours_torch": _torch_stepper(ours, obs),
            "ours_onnxruntime": lambda: runners["onnxruntime"].step(obs),
            "ours_numpy": lambda: runners["numpy"].step(obs),
            "ncps_torch": _ncps_stepper(ref, obs),
        }
        res.latency_us = time_interleaved(paths, steps)
    res.train_seq_per_s["ours"] = train_rate(lambda x: ours.forward_sequence(x)[0], inputs, iters)
    res.train_seq_per_s["ncps"] = train_rate(lambda x: ref(x)[0], inputs, iters)
    ref_lat = res.latency_us["ncps_torch"]
    for name in LATENCY_PATHS[:3]:
        res.ratios[f"latency_{name}"] = ref_lat["median"] / res.latency_us[name]["median"]
        res.ratios[f"latency_p10_{name}"] = ref_lat["p10"] / res.latency_us[name]["p10"]
    res.ratios["training"] = res.train_seq_per_s["ours"] / res.train_seq_per_s["ncps"]
    return res


def build_ours(units: int, outputs: int, inputs: int) -> Any:
    """Our CfC policy on AutoNCP(units, outputs) with ncps' default seed and sparsity."""
    from liquidcontrol.policies.registry import make_policy

    return make_policy("cfc-ncp", inputs, outputs, units=units, seed=22222).eval()


def build_ncps(units: int, outputs: int, inputs: int) -> Any:
    from ncps.torch import CfC
    from ncps.wirings import AutoNCP

    return CfC(inputs, AutoNCP(units, outputs, seed=22222), batch_first=True)


def _core_params(policy: Any) -> int:
    """Trainable parameters minus our affine action map (ncps has none), for comparison."""
    return int(policy.num_parameters()) - 2 * int(policy.act_dim)


def _torch_stepper(policy: Any, obs: np.ndarray) -> Callable[[], Any]:
    import torch

    x = torch.from_numpy(obs[None])
    dt = torch.full((1, 1), float(policy.control_period))
    box = [policy.initial_state(1)]

    def step() -> None:
        box[0] = policy(x, box[0], dt)[1]

    return step


def _ncps_stepper(model: Any, obs: np.ndarray) -> Callable[[], Any]:
    """ncps as users drive it in a control loop: a length-1 sequence with hx fed back."""
    import torch

    x = torch.from_numpy(obs[None, None])
    box = [None]

    def step() -> None:
        box[0] = model(x, box[0])[1]

    return step


def time_interleaved(paths: dict[str, Callable[[], Any]], steps: int, rounds: int = 10) -> dict[str, dict[str, float]]:
    """Median and 10th percentile of single-call wall time per path, microseconds.

    The paths take turns in ``rounds`` blocks, so load from other processes
    on a shared machine hits all of them alike instead of skewing the ratios.
    """
    for fn in paths.values():  # warm-up: caches, lazy initialisation
        for _ in range(max(steps // 20, 5)):
            fn()
    samples: dict[str, list[float]] = {name: [] for name in paths}
    clock, block = time.perf_counter_ns, max(steps // rounds, 1)
    for _ in range(rounds):
        for name, fn in paths.items():
            out = samples[name]
            for _ in range(block):
                start = clock()
                fn()
                out.append((clock() - start) / 1000.0)
    return {name: _summary(vals) for name, vals in samples.items()}


def _summary(samples: list[float]) -> dict[str, float]:
    samples = sorted(samples)
    return {"median": statistics.median(samples), "p10": samples[len(samples) // 10]}


def train_rate(forward: Callable[[Any], Any], inputs: int, iters: int, batch: int = 64, steps: int = 32) -> float:
    """Sequences per second of forward + backward on [batch, steps, inputs] random data."""
    import torch

    x = torch.randn(batch, steps, inputs)
    forward(x).square().mean().backward()  # warm-up (allocations, first-call paths)
    start = time.perf_counter()
    for _ in range(iters):
        forward(x).square().mean().backward()
    return batch * iters / (time.perf_counter() - start)


def format_table(results: list[CaseResult]) -> str:
    """The human-readable report: one block per wiring."""
    lines = ["liquidcontrol bench models (1 thread; latency at batch 1 in us; ratios = ncps / ours)"]
    for r in results:
        lines.append(f"\nAutoNCP({r.units},{r.outputs}), {r.inputs} inputs: params ours {r.params_ours} "
                     f"(+{r.outputs * 2} action map) / ncps {r.params_ncps}")
        lines.append(f"  {'path':<18}{'median us':>11}{'p10 us':>9}{'x ncps (median)':>17}{'x ncps (p10)':>14}")
        for name in LATENCY_PATHS:
            lat = r.latency_us[name]
            ratio, ratio10 = r.ratios.get(f"latency_{name}", 1.0), r.ratios.get(f"latency_p10_{name}", 1.0)
            lines.append(f"  {name:<18}{lat['median']:>11.1f}{lat['p10']:>9.1f}{ratio:>16.1f}x{ratio10:>13.1f}x")
        t = r.train_seq_per_s
        lines.append(f"  training 64x32 fwd+bwd: ours {t['ours']:.0f} seq/s, ncps {t['ncps']:.0f} seq/s, "
                     f"{r.ratios['training']:.1f}x")
    return "\n".join(lines)

