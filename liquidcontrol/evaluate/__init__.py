"""Evaluation: batched rollouts, severity sweeps, metrics, reports and videos.

>>> from liquidcontrol.evaluate import evaluate, sweep_conditions, runtime_agent, expert_agent, write_report
>>> conditions = sweep_conditions(["rain", "obs_noise"], severities=[1, 3, 5])
>>> onnx = evaluate(runtime_agent("bundle"), "liquidcontrol/Parking-v0", conditions, n_episodes=50, seed=1000)
>>> expert = evaluate(expert_agent(), "liquidcontrol/Parking-v0", conditions, n_episodes=50, seed=1000)
>>> write_report([expert, onnx], "report/")
"""

import os

# Offscreen MuJoCo rendering for videos; must be set before mujoco is imported.
os.environ.setdefault("MUJOCO_GL", "egl")

from liquidcontrol.evaluate.agents import (  # noqa: E402
    Agent,
    AgentFactory,
    ExpertAgent,
    RuntimeAgent,
    TorchPolicyAgent,
    check_bundle,
    expert_agent,
    runtime_agent,
    torch_agent,
    torch_bundle_agent,
)
from liquidcontrol.evaluate.metrics import (  # noqa: E402
    ConditionMetrics,
    EpisodeRecord,
    robustness_summary,
    summarize,
    wilson_interval,
)
from liquidcontrol.evaluate.report import ReportFiles, plot_success_vs_severity, write_report  # noqa: E402
from liquidcontrol.evaluate.sweep import (  # noqa: E402
    CLEAN,
    Condition,
    EvaluationResult,
    evaluate,
    make_env,
    results_csv,
    save_results,
    sweep_conditions,
)
from liquidcontrol.evaluate.video import record_episode, write_video  # noqa: E402
from liquidcontrol.rollout import StepEvent, run_episodes  # noqa: E402

__all__ = [
    "CLEAN",
    "Agent",
    "AgentFactory",
    "Condition",
    "ConditionMetrics",
    "EpisodeRecord",
    "EvaluationResult",
    "ExpertAgent",
    "ReportFiles",
    "RuntimeAgent",
    "StepEvent",
    "TorchPolicyAgent",
    "check_bundle",
    "evaluate",
    "expert_agent",
    "make_env",
    "plot_success_vs_severity",
    "record_episode",
    "results_csv",
    "robustness_summary",
    "run_episodes",
    "runtime_agent",
    "save_results",
    "summarize",
    "sweep_conditions",
    "torch_agent",
    "torch_bundle_agent",
    "wilson_interval",
    "write_report",
    "write_video",
]
