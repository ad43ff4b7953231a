"""``liquidcontrol bench runtime --quick`` runs end to end on every shipped bundle and backend;
timings are reported, never asserted."""

from __future__ import annotations

import json

from liquidcontrol.bench import runtime
from liquidcontrol.cli import main
from liquidcontrol.runtime import PolicyRunner, available_pretrained, load_card, pretrained


def test_quick_run_covers_every_bundle_and_backend(tmp_path, capsys) -> None:
    out = tmp_path / "bench.json"
    assert main(["bench", "runtime", "--quick", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "p99/50 ms" in text and "p99/10 ms" in text
    data = json.loads(out.read_text())
    assert [b["bundle"] for b in data["bundles"]] == available_pretrained()
    for row in data["bundles"]:
        assert list(row["backends"]) == list(runtime.BACKENDS)
        camera = load_card(pretrained(row["bundle"])).is_dict
        for name, fig in row["backends"].items():
            if camera and name == "numpy":  # the numpy backend takes vectors: skipped, with the reason
                assert "vector observations only" in fig["skipped"]
                continue
            assert "skipped" not in fig, (row["bundle"], name, fig)
            assert 0 < fig["p50_us"] <= fig["p99_us"] <= fig["max_us"] and fig["n"] == 50
            assert f"{row['bundle']:<28}{name:<18}" in text


def test_precision_copy_is_a_valid_bundle_of_that_precision(tmp_path) -> None:
    copy = runtime.precision_copy(pretrained("parking_cfc_ncp12"), "int8", tmp_path)
    assert load_card(copy).onnx_precision == "int8"
    runner = PolicyRunner(copy)  # manifest rewritten: every file checks out
    assert runner.step([0.3] * 14, 0.05).shape == (2,)
    assert load_card(pretrained("parking_cfc_ncp12")).onnx_precision == "fp32"  # the shipped bundle untouched


def test_unknown_bundle_is_one_line(tmp_path, capsys) -> None:
    assert main(["bench", "runtime", str(tmp_path / "nope"), "--quick"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err


def test_a_quantised_bundle_is_timed_on_the_row_of_its_precision(tmp_path) -> None:
    fp16 = runtime.precision_copy(pretrained("parking_cfc_ncp12"), "fp16", tmp_path)
    row = runtime.bench_bundle(fp16, 20, tmp_path)["backends"]
    assert row["onnxruntime fp16"]["n"] == 20 and row["numpy"]["n"] == 20
    for other in ("onnxruntime fp32", "onnxruntime int8"):
        assert "conversions start from an fp32 bundle" in row[other]["skipped"]
