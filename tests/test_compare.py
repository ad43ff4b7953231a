"""``liquidcontrol compare``: aggregation over training seeds (mean ± sample std) and its tables,
on fake runs; no training."""

from __future__ import annotations

import csv
import io
import json
import math

import pytest

from liquidcontrol import compare as cmp


def _summary(kind, seed, clean, seconds, rain, auc, trainable):
    agent = f"{kind} (torch)"
    return {
        "seed": seed,
        "clean": {"expert": {"success": 1.0}, agent: {"success": clean}, f"{kind} (ONNX)": {"success": clean}},
        "parameters": {"nominal": trainable + 60, "trainable": trainable},
        "training": {"train_seconds": seconds},
        "onnx_check": {"passed": True},
        "sweep": {"expert": {"rain": {"severity": [0, 1, 3], "success": [1.0, 1.0, 0.9], "auc": 0.95}},
                  agent: {"rain": {"severity": [0, 1, 3], "success": [clean, *rain], "auc": auc}}},
    }


RUNS = {
    "cfc-ncp": [_summary("cfc-ncp", 0, 0.9, 100.0, [0.8, 0.4], 0.6, 740),
                _summary("cfc-ncp", 1, 0.7, 120.0, [0.6, 0.2], 0.4, 740)],
    "lstm": [_summary("lstm", 0, 0.5, 50.0, [0.5, 0.0], 0.3, 736),
             _summary("lstm", 1, 0.5, 70.0, [0.3, 0.0], 0.2, 736)],
}
SD = math.sqrt(0.02)  # sample std of two values 0.2 apart: 0.1414


def test_aggregate_mean_and_sample_std():
    table = cmp.aggregate("parking", RUNS, 740)
    a, b = table["kinds"]["cfc-ncp"], table["kinds"]["lstm"]
    assert a["clean_success"] == pytest.approx({"mean": 0.8, "std": SD, "n": 2})
    assert b["clean_success"] == pytest.approx({"mean": 0.5, "std": 0.0, "n": 2})
    assert a["train_seconds"] == pytest.approx({"mean": 110.0, "std": 100 * SD, "n": 2})
    assert a["perturbations"]["rain"]["s1"] == pytest.approx({"mean": 0.7, "std": SD, "n": 2})
    assert a["perturbations"]["rain"]["s3"] == pytest.approx({"mean": 0.3, "std": SD, "n": 2})
    assert a["perturbations"]["rain"]["auc"] == pytest.approx({"mean": 0.5, "std": SD, "n": 2})
    assert b["perturbations"]["rain"]["s3"] == pytest.approx({"mean": 0.0, "std": 0.0, "n": 2})
    assert a["seeds"] == [0, 1] and a["onnx_check_passed"] and a["parameters"]["trainable"] == 740
    assert table["expert"]["rain"]["auc"] == 0.95  # the expert is a reference, not averaged into a kind
    assert table["reference_trainable_parameters"] == 740


def test_one_seed_has_zero_std():
    table = cmp.aggregate("parking", {"gru": [_summary("gru", 3, 0.25, 10.0, [0.1, 0.0], 0.1, 700)]}, 740)
    assert table["kinds"]["gru"]["clean_success"] == {"mean": 0.25, "std": 0.0, "n": 1}


def test_markdown_rows():
    md = cmp.aggregate("parking", RUNS, 740)["markdown"]
    lines = md.splitlines()
    assert lines[0] == "# parking: cfc-ncp, lstm (mean ± std over training seeds)"
    assert lines[2] == ("| | cfc-ncp (740 trainable / 800 nominal params, 2 seeds) | "
                        "lstm (736 trainable / 796 nominal params, 2 seeds) |")
    for row in ("| clean success, held-out seeds | 80.0 ± 14.1 % | 50.0 ± 0.0 % |",
                "| training time (s, own timer) | 110 ± 14 | 60 ± 14 |"):
        assert row in lines, row
    # AUC mean ± std, then the mean success per severity (severity 0 is the clean row, not repeated).
    rain = next(line for line in lines if line.startswith("| rain ("))
    assert rain.endswith("| 0.50 ± 0.14 (70 / 30 %) | 0.25 ± 0.07 (40 / 0 %) |"), rain


def test_csv_rows():
    rows = list(csv.DictReader(io.StringIO(cmp.aggregate("parking", RUNS, 740)["csv"])))
    clean = [r for r in rows if r["perturbation"] == "clean"]
    assert [(r["kind"], float(r["mean"]), int(r["n"])) for r in clean] == [("cfc-ncp", 0.8, 2), ("lstm", 0.5, 2)]
    auc = next(r for r in rows if r["kind"] == "lstm" and r["metric"] == "auc")
    assert float(auc["mean"]) == pytest.approx(0.25) and float(auc["std"]) == pytest.approx(SD / 2)


def test_compare_reuses_finished_runs_and_writes_the_tables(tmp_path, monkeypatch):
    import liquidcontrol.main_job

    def no_training(cfg):
        raise AssertionError(f"compare re-ran {cfg.out} although its summary exists")

    monkeypatch.setattr(liquidcontrol.main_job, "main_job", no_training)
    for kind, summaries in RUNS.items():
        for s in summaries:
            report = tmp_path / "runs" / f"{kind}-seed{s['seed']}" / "report"
            (report / "robustness").mkdir(parents=True)
            (report / "summary.json").write_text(json.dumps({k: v for k, v in s.items() if k != "sweep"}))
            results = [{"agent": agent, "curves": curves} for agent, curves in s["sweep"].items()]
            (report / "robustness" / "results.json").write_text(json.dumps({"results": results}))
    cfg = cmp.CompareConfig(task="parking", kinds=["cfc-ncp", "lstm"], seeds=[0, 1], out=str(tmp_path / "runs"),
                            results=str(tmp_path / "results"), progress=False)
    table = cmp.compare(cfg)
    assert table["reference_trainable_parameters"] > 0  # the task's liquid model, measured
    expected = cmp.aggregate("parking", RUNS, table["reference_trainable_parameters"])
    assert (tmp_path / "results" / "comparison.md").read_text() == expected["markdown"]
    assert (tmp_path / "results" / "comparison.csv").read_text() == expected["csv"]
    saved = json.loads((tmp_path / "results" / "comparison.json").read_text())
    assert saved["kinds"]["cfc-ncp"]["clean_success"]["mean"] == pytest.approx(0.8)


def test_compare_refuses_a_baseline_as_size_reference(tmp_path):
    from liquidcontrol.errors import LiquidControlError

    with pytest.raises(LiquidControlError, match="must be a liquid kind"):
        cmp.compare(cmp.CompareConfig(kinds=["lstm", "cfc-ncp"], seeds=[0], out=str(tmp_path), progress=False))


def _fake_run(tmp_path, kind, seed, **summary):
    report = tmp_path / "runs" / f"{kind}-seed{seed}" / "report"
    report.mkdir(parents=True)
    base = {"task": "parking", "kind": kind, "seed": seed, "budget": "full",
            "clean": {f"{kind} (torch)": {"success": 0.9, "episodes": 500}},
            "training": {"train_seconds": 1.0}, "onnx_check": {"passed": True}}
    (report / "summary.json").write_text(json.dumps({**base, **summary}))
    return report / "summary.json"


def test_compare_refuses_to_reuse_a_run_made_with_other_settings(tmp_path):
    from liquidcontrol.errors import LiquidControlError

    _fake_run(tmp_path, "cfc-ncp", 0, clean={"cfc-ncp (torch)": {"success": 0.9, "episodes": 100}})
    cfg = cmp.CompareConfig(kinds=["cfc-ncp"], seeds=[0], out=str(tmp_path / "runs"), progress=False)
    with pytest.raises(LiquidControlError, match=r"different settings \{'eval_episodes': \(100, 500\)\}"):
        cmp.compare(cfg)


def test_compare_reports_a_corrupt_summary_in_one_sentence(tmp_path):
    from liquidcontrol.errors import LiquidControlError

    path = _fake_run(tmp_path, "cfc-ncp", 0)
    path.write_text("{not json")
    cfg = cmp.CompareConfig(kinds=["cfc-ncp"], seeds=[0], out=str(tmp_path / "runs"), progress=False)
    with pytest.raises(LiquidControlError, match="is corrupt"):
        cmp.compare(cfg)


def test_compare_checks_every_run_before_training_any(tmp_path):
    from liquidcontrol.errors import LiquidControlError

    cfg = cmp.CompareConfig(kinds=["cfc-ncp", "no-such-kind"], seeds=[0], out=str(tmp_path / "runs"), progress=False)
    with pytest.raises(LiquidControlError, match="no-such-kind"):
        cmp.compare(cfg)
    assert not (tmp_path / "runs").exists()


def test_a_main_run_that_left_the_kind_to_the_task_is_reused_for_that_kind(tmp_path):
    from liquidcontrol.compare import _check_reuse
    from liquidcontrol.errors import LiquidControlError
    from liquidcontrol.main_job import MainConfig

    saved = {"config": {"task": "parking", "kind": "", "seed": 0}, "kind": "cfc-ncp"}
    _check_reuse(saved, MainConfig(task="parking", kind="cfc-ncp", seed=0), tmp_path)  # no error
    with pytest.raises(LiquidControlError, match="different settings"):
        _check_reuse(saved, MainConfig(task="parking", kind="lstm", seed=0), tmp_path)
