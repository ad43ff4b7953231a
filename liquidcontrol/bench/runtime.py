"""Policy step latency of the deploy runtime: every backend, every shipped bundle, batch 1.

For each bundle (default: the shipped ones in ``policies/pretrained/``) one
:meth:`PolicyRunner.step` call (input checks and state bookkeeping included,
as a robot calls it) is timed on one thread with each backend:

- ``onnxruntime fp32``: the bundle's ``policy.onnx`` (for a bundle exported
  with ``--precision``, its own graph runs on the row of its precision);
- ``onnxruntime fp16`` / ``onnxruntime int8``: the fp32 graph converted by
  :mod:`liquidcontrol.export.precision` into a temporary copy of the bundle
  (needs the ``[train]`` extra; skipped with a note without it, as on a
  runtime-only robot install);
- ``numpy``: ``weights.npz`` with plain numpy.

Reported: p50 and p99 in microseconds, and p99 as a share of the control
period at 20 Hz (50 ms) and 100 Hz (10 ms). Backends take turns in rounds,
so load from other processes hits all of them alike. Nothing is asserted:
timings depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from liquidcontrol.fileio import atomic_write_json

BACKENDS = ("onnxruntime fp32", "onnxruntime fp16", "onnxruntime int8", "numpy")
RATES_HZ = (20, 100)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("bundles", nargs="*", help="bundle folders (default: every shipped bundle)")
    parser.add_argument("--steps", type=int, default=5000, help="timed steps per bundle and backend (default 5000)")
    parser.add_argument("--quick", action="store_true", help="50 steps per backend (smoke test; figures meaningless)")
    parser.add_argument("--json", default=None, metavar="PATH", help="also write the results as JSON to PATH")


def run(args: argparse.Namespace) -> int:
    from liquidcontrol.runtime.pretrained import available_pretrained, pretrained

    folders = [Path(b) for b in args.bundles] or [pretrained(n) for n in available_pretrained()]
    steps = 50 if args.quick else max(args.steps, 100)
    with tempfile.TemporaryDirectory(prefix="lc_bench_runtime_") as tmp:
        rows = [bench_bundle(folder, steps, Path(tmp)) for folder in folders]
    print(format_table(rows, steps))
    if args.json:
        import platform

        atomic_write_json(args.json, {"steps": steps, "threads": 1, "machine": platform.machine(),
                                      "python": platform.python_version(), "onnxruntime": _ort_version(),
                                      "bundles": rows})
    return 0


def _ort_version() -> str:
    import onnxruntime

    return str(onnxruntime.__version__)


def bench_bundle(folder: Path, steps: int, tmp: Path) -> dict[str, Any]:
    """Latency of one bundle on every backend: ``{"bundle", "backends": {name: {p50_us, p99_us} or {skipped}}}``."""
    from liquidcontrol.runtime import load_card

    card = load_card(folder)
    runners: dict[str, Any] = {}
    skipped: dict[str, str] = {}
    for name in BACKENDS:
        try:
            runners[name] = _runner(folder, name, card.onnx_precision, tmp)
        except (ImportError, ValueError) as exc:  # no [train] extra; a bundle the numpy backend cannot run
            skipped[name] = " ".join(str(exc).split())[:120]
    rng = np.random.default_rng(0)
    obs: Any
    if card.is_dict:  # a camera bundle: a random frame per image key, Gaussian vectors
        obs = {i["key"]: (rng.integers(0, 256, i["shape"]).astype(np.uint8) if i["dtype"] == "uint8"
                          else rng.standard_normal(i["shape"]).astype(np.float32)) for i in card.inputs}
    else:
        scales = np.array([float(e.get("scale", 1.0)) for e in card.vector_inputs()[0]["layout"]])
        obs = (rng.standard_normal(card.obs_dim) * scales).astype(np.float32)
    period = card.control_period_s
    calls: dict[str, Callable[[], Any]] = {n: _stepper(r, obs, period) for n, r in runners.items()}
    samples = interleaved_samples(calls, steps)
    backends: dict[str, Any] = {}
    for name in BACKENDS:
        if name in samples:
            backends[name] = percentiles(samples[name])
        else:
            backends[name] = {"skipped": skipped.get(name, "not run")}
    return {"bundle": folder.name, "task": card.task, "model": card.model_kind, "obs_dim": card.obs_dim,
            "control_period_s": period, "backends": backends}


def _stepper(runner: Any, obs: Any, period: float) -> Callable[[], Any]:
    def step() -> Any:
        return runner.step(obs, period)

    return step


def _runner(folder: Path, backend: str, own: str, tmp: Path) -> Any:
    """The runner of one row: the bundle's own ``policy.onnx`` on the row of its precision; the
    other precisions converted from an fp32 bundle (the conversion needs the ``[train]`` extra)."""
    from liquidcontrol.runtime import PolicyRunner

    if backend == "numpy":
        return PolicyRunner(folder, "numpy")
    precision = backend.split()[-1]
    if precision == own:
        return PolicyRunner(folder)
    if own != "fp32":
        raise ValueError(f"this bundle's policy.onnx is {own}; conversions start from an fp32 bundle")
    try:
        return PolicyRunner(precision_copy(folder, precision, tmp))
    except ModuleNotFoundError as exc:
        raise ImportError(f"converting to {precision} needs the [train] extra (missing module {exc.name!r})") from None


def precision_copy(folder: Path, precision: str, tmp: Path) -> Path:
    """A copy of ``folder`` whose ``policy.onnx`` is converted to ``precision`` (card and manifest updated)."""
    from liquidcontrol.export.precision import convert_onnx_file
    from liquidcontrol.runtime import load_card
    from liquidcontrol.runtime.manifest import write_manifest

    dest = tmp / f"{folder.name}_{precision}"
    shutil.copytree(folder, dest)
    convert_onnx_file(dest / "policy.onnx", precision)
    card = load_card(dest)
    card.onnx_precision = precision
    (dest / "card.json").write_text(card.to_json(), encoding="utf-8")
    if (dest / "manifest.json").is_file():
        write_manifest(dest)
    return dest


def interleaved_samples(calls: dict[str, Callable[[], Any]], steps: int, rounds: int = 10) -> dict[str, list[float]]:
    """Wall time of ``steps`` single calls per entry, microseconds; entries take turns in ``rounds`` blocks."""
    for fn in calls.values():  # warm-up: first-call allocations, caches
        for _ in range(max(steps // 20, 5)):
            fn()
    samples: dict[str, list[float]] = {name: [] for name in calls}
    clock, block = time.perf_counter_ns, max(steps // rounds, 1)
    for _ in range(rounds):
        for name, fn in calls.items():
            out = samples[name]
            for _ in range(block):
                start = clock()
                fn()
                out.append((clock() - start) / 1000.0)
    return samples


def percentiles(samples: list[float]) -> dict[str, float]:
    arr = np.asarray(samples, dtype=np.float64)
    return {"p50_us": float(np.percentile(arr, 50)), "p99_us": float(np.percentile(arr, 99)),
            "max_us": float(arr.max()), "n": int(arr.size)}


def format_table(rows: list[dict[str, Any]], steps: int) -> str:
    head = (f"liquidcontrol bench runtime: PolicyRunner.step at batch 1, 1 thread, {steps} steps per backend; "
            "p99 as a share of the control period at " + " and ".join(f"{r} Hz" for r in RATES_HZ))
    lines = [head, f"{'bundle':<28}{'backend':<18}{'p50 us':>9}{'p99 us':>9}"
                   + "".join(f"{f'p99/{1000 // r} ms':>12}" for r in RATES_HZ)]
    for row in rows:
        for name, fig in row["backends"].items():
            if "skipped" in fig:
                lines.append(f"{row['bundle']:<28}{name:<18}  skipped: {fig['skipped']}")
                continue
            shares = "".join(f"{100 * fig['p99_us'] / (1e6 / r):>11.2f}%" for r in RATES_HZ)
            lines.append(f"{row['bundle']:<28}{name:<18}{fig['p50_us']:>9.1f}{fig['p99_us']:>9.1f}{shares}")
    return "\n".join(lines)
