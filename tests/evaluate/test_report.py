"""Report files, plot and video validity, and the eval command's bad-input errors."""

from __future__ import annotations

import csv
import json

import imageio.v2 as imageio
import numpy as np
import pytest
from PIL import Image

from liquidcontrol.cli import main as cli_main
from liquidcontrol.evaluate import (
    evaluate,
    record_episode,
    sweep_conditions,
    write_report,
    write_video,
)


class Lazy:
    """Never moves: fails every episode (by time-out), a contrast to the expert."""

    name = "lazy"

    def reset(self, n_envs):
        self.n = n_envs

    def act(self, obs, dt, active=None):
        return np.zeros((obs.shape[0], 2), np.float32)

    def reset_done(self, mask):
        pass


@pytest.fixture(scope="module")
def report(tmp_path_factory, standin_id):
    from standin_env import StandInExpert

    from liquidcontrol.evaluate import expert_agent

    out = tmp_path_factory.mktemp("report")
    conditions = sweep_conditions(["rain", "obs_delay"], [1, 5])
    kw = dict(n_episodes=3, seed=0, n_envs=2, progress=False, env_kwargs={"max_steps": 40})
    results = [evaluate(expert_agent(StandInExpert), standin_id, conditions, **kw),
               evaluate(lambda envs: Lazy(), standin_id, conditions, **kw)]
    video, rec = record_episode(expert_agent(StandInExpert), standin_id, out / "episode.mp4", seed=0)
    return write_report(results, out, video=video), results, rec


def test_report_files_exist_and_link_plot_and_video(report):
    files, _, _ = report
    for path in (files.markdown, files.html, files.plot, files.json, files.csv, files.video):
        assert path.is_file() and path.stat().st_size > 0
    md, page = files.markdown.read_text(), files.html.read_text()
    assert "](success_vs_severity.png)" in md and "](episode.mp4)" in md
    assert "src='success_vs_severity.png'" in page and "src='episode.mp4'" in page
    assert "| clean | 100.0 % [" in md and "expert" in md and "lazy" in md  # side by side
    assert "held out" in md and "AUC" in md and "rain@5" in page


def test_json_and_csv_contents(report):
    files, results, _ = report
    data = json.loads(files.json.read_text())
    assert [r["agent"] for r in data["results"]] == ["expert", "lazy"]
    first = data["results"][0]
    assert [c["name"] for c in first["conditions"]] == ["clean", "rain@1", "rain@5", "obs_delay@1", "obs_delay@5"]
    assert len(first["conditions"][0]["episodes"]) == 3 and first["curves"]["rain"]["severity"] == [0, 1, 5]
    rows = list(csv.DictReader(files.csv.open()))
    assert len(rows) == 10 and rows[0]["agent"] == "expert" and rows[0]["perturbation"] == "clean"
    assert float(rows[5]["success_rate"]) == 0.0 and rows[5]["time_to_success_s"] == ""


def test_plot_is_a_valid_png(report):
    files, _, _ = report
    with Image.open(files.plot) as img:
        img.verify()
    with Image.open(files.plot) as img:
        assert img.format == "PNG" and img.size[0] > 400 and img.size[1] > 200


def test_video_decodes(report):
    files, _, rec = report
    reader = imageio.get_reader(files.video, format="FFMPEG")
    frame = reader.get_data(0)
    assert frame.shape == (64, 64, 3) and frame.mean() > 100  # the light background
    assert reader.count_frames() == rec.steps + 1
    reader.close()


def test_gif_fallback_and_odd_sizes(tmp_path):
    frames = [np.full((33, 47, 3), v, np.uint8) for v in (0, 120, 250)]
    gif = write_video(frames, tmp_path / "clip.gif", fps=20)
    with Image.open(gif) as img:
        assert img.format == "GIF" and img.n_frames == 3
    mp4 = write_video(frames, tmp_path / "clip.mp4", fps=20)
    assert imageio.get_reader(mp4, format="FFMPEG").get_data(2).mean() > 200


def test_cli_bad_bundles(tmp_path, capsys):
    assert cli_main(["eval", "--bundle", str(tmp_path / "missing")]) == 2
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "b").mkdir()
    assert cli_main(["eval", "--bundle", str(tmp_path / "b")]) == 2
    assert "card.json is missing" in capsys.readouterr().err
    (tmp_path / "b" / "card.json").write_text("{not json")
    assert cli_main(["eval", "--bundle", str(tmp_path / "b"), "--backend", "onnx"]) == 2
    assert "is corrupt" in capsys.readouterr().err


def test_cli_other_bad_input(capsys):
    assert cli_main(["eval"]) == 2
    assert "nothing to evaluate" in capsys.readouterr().err
    assert cli_main(["eval", "--expert", "true", "--backend", "tflite"]) == 2
    assert "unknown backend" in capsys.readouterr().err
    assert cli_main(["eval", "--expert", "true", "--perturbations", "smog"]) == 2
    assert "unknown perturbation 'smog'" in capsys.readouterr().err


def test_seen_in_training_comes_from_the_bundle_recipe(tmp_path):
    from liquidcontrol.policies import make_policy

    from liquidcontrol.evaluate.cli import seen_in_training
    from liquidcontrol.export import save_bundle
    from liquidcontrol.export.layouts import env_card_fields
    from liquidcontrol.tasks import get_task

    task = get_task("parking")
    fields = {**env_card_fields(task.env_id), "task": "parking",
              "training": {"recipe": {"train_perturbations": ["rain:2", "obs_noise:1"]}}}
    save_bundle(tmp_path / "b", make_policy("gru", 14, 2, hidden=4), fields, exporter="torchscript")
    assert seen_in_training(str(tmp_path / "b"), task) == ["action_noise", "obs_noise", "rain"]
    assert seen_in_training(None, task) == ["action_noise"]
