"""``liquidcontrol bench rl`` runs every contender on the same task and prints the ratios (figures are not asserted)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from liquidcontrol.cli import main


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_bench_rl_quick_times_all_contenders_and_writes_json(tmp_path: Path, capsys: Any) -> None:
    out = tmp_path / "rl.json"
    assert main(["bench", "rl", "parking", "--quick", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    data = json.loads(out.read_text())
    names = list(data["results"])
    assert names[0] == "LiquidPPO cfc-ncp 12" and "RecurrentPPO MlpLstmPolicy (256)" in names
    assert "SB3 PPO MlpPolicy" in names and "LiquidPPO lstm (same parameters)" in names
    for name, r in data["results"].items():
        assert r["steps_per_s"] > 0 and r["trainable_parameters"] > 0
        assert name in text
    assert set(data["ratios_vs_liquid"]) == set(names[1:])
    # the LSTM actor is sized to the liquid actor's trainable parameter count
    liquid, lstm = (data["results"][n]["actor_parameters"] for n in names[:2])
    assert abs(lstm - liquid) < 0.1 * liquid


def test_bench_rl_rejects_bad_budgets(capsys: Any) -> None:
    assert main(["bench", "rl", "parking", "--rollouts", "0"]) == 2
    assert "--rollouts must be at least 1" in capsys.readouterr().err
