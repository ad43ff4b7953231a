"""Training-speed check (a script, not a test; no timing is asserted anywhere).

Wired CfC on AutoNCP(19, 1) with 32 inputs, batch 64 x 32 steps, forward +
backward, sequences per second for liquidcontrol and ncps 1.0.1, measured
interleaved in the same run on one thread. Run:

    OMP_NUM_THREADS=1 .venv/bin/python tests/policies/speed_check.py
"""

from __future__ import annotations

import os
import statistics
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import ncps.torch  # noqa: E402
import ncps.wirings  # noqa: E402
import torch  # noqa: E402
from liquidcontrol.policies import CfC, wirings  # noqa: E402

BATCH, STEPS, INPUTS = 64, 32, 32


def seconds_per_batch(model: torch.nn.Module, x: torch.Tensor) -> float:
    start = time.process_time()  # CPU time: less sensitive to other jobs on the machine
    y, _ = model(x)
    y.pow(2).mean().backward()
    return time.process_time() - start


def main(rounds: int = 15) -> None:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    x = torch.randn(BATCH, STEPS, INPUTS)
    models = {"ncps": ncps.torch.CfC(INPUTS, ncps.wirings.AutoNCP(19, 1)),
              "liquidcontrol": CfC(INPUTS, wirings.AutoNCP(19, 1))}
    times: dict[str, list[float]] = {name: [] for name in models}
    for model in models.values():  # warm-up
        seconds_per_batch(model, x)
    for _ in range(rounds):  # interleaved, so load changes hit both alike
        for name, model in models.items():
            times[name].append(seconds_per_batch(model, x))
    rates = {name: BATCH / statistics.median(t) for name, t in times.items()}
    for name, rate in rates.items():
        print(f"{name:>14}: {rate:8.0f} sequences/s")
    print(f"         ratio: {rates['liquidcontrol'] / rates['ncps']:.2f}x (target >= 5x)")


if __name__ == "__main__":
    main()
