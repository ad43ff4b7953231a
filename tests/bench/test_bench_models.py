"""``liquidcontrol bench models --quick`` runs end to end; timings are not checked."""

from __future__ import annotations

import argparse
import json

from liquidcontrol.bench import models


def test_quick_run_prints_table_and_json(tmp_path, capsys) -> None:
    parser = argparse.ArgumentParser()
    models.add_arguments(parser)
    out = tmp_path / "bench.json"
    assert models.run(parser.parse_args(["--quick", "--json", str(out)])) == 0
    text = capsys.readouterr().out
    for label in ("AutoNCP(19,1), 32 inputs", "AutoNCP(12,2), 8 inputs", "AutoNCP(30,4), 16 inputs",
                  "ours_numpy", "ncps_torch", "training 64x32"):
        assert label in text
    data = json.loads(out.read_text())
    assert [(c["units"], c["outputs"], c["inputs"]) for c in data["cases"]] == models.CASES
    for case in data["cases"]:
        # Same wiring as ncps: identical parameter counts (ncps 1.0.1 gives 2504, 592, 3432).
        assert case["params_ours"] == case["params_ncps"]
        assert set(case["latency_us"]) == set(models.LATENCY_PATHS)
        assert all(v["median"] > 0 and v["p10"] > 0 for v in case["latency_us"].values())
        assert {"latency_ours_numpy", "latency_ours_onnxruntime", "training"} <= set(case["ratios"])
