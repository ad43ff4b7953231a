"""``liquidcontrol export SOURCE --out BUNDLE``: a checkpoint (or bundle) to a policy bundle.

SOURCE is either a training checkpoint folder (``policy.safetensors`` +
``progress.json`` with the model kind and config, as written by
``liquidcontrol train``) or an existing bundle folder (``weights.safetensors``
+ ``card.json``), which is re-exported (e.g. after a liquidcontrol upgrade).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from liquidcontrol.errors import LiquidControlError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", help="checkpoint folder (progress.json) or bundle folder (card.json)")
    parser.add_argument("--out", required=True, help="bundle folder to write")
    parser.add_argument("--env-id", default=None, help="env id for the card (default: the task of the checkpoint's recipe, or the bundle's card)")
    parser.add_argument("--card-fields", default=None, metavar="JSON",
                        help="JSON file with extra card fields: observation / action layouts, training, evaluation")
    parser.add_argument("--exporter", choices=["dynamo", "torchscript"], default="dynamo",
                        help="torch ONNX exporter (default: dynamo, the compact graph; torchscript exports faster)")
    parser.add_argument("--precision", choices=["fp32", "fp16", "int8"], default="fp32",
                        help="number format of policy.onnx: fp16 weights and arithmetic, or int8 dynamic "
                             "quantisation (inputs and outputs stay float32; default: fp32)")
    parser.add_argument("--check-episodes", type=int, default=None, metavar="N",
                        help="run the closed-loop ONNX check against the fp32 torch policy on N held-out episodes "
                             "before the bundle is written (default: 100 for fp16/int8, 0 = no check for fp32)")
    parser.add_argument("--action-tolerance", type=float, default=None,
                        help="largest |torch - ONNX| action the check allows (default: the precision's, "
                             "see liquidcontrol.evaluate.onnx_check.PRECISION_TOLERANCE)")


def run(args: argparse.Namespace) -> int:
    from liquidcontrol.export.bundle import save_bundle

    source = Path(args.source)
    policy, fields = _load_source(source)
    if args.env_id:
        fields["env_id"] = args.env_id
    if args.card_fields:
        fields.update(_read_json(Path(args.card_fields)))
    for key, value in _env_layouts(str(fields.get("env_id", ""))).items():
        fields.setdefault(key, value)
    episodes = args.check_episodes if args.check_episodes is not None else (0 if args.precision == "fp32" else 100)
    if episodes < 0:
        raise LiquidControlError(f"--check-episodes must be 0 or more, got {episodes}.")
    if episodes:
        card = _save_checked(Path(args.out), policy, fields, args, episodes)
    else:
        card = save_bundle(args.out, policy, fields, exporter=args.exporter, precision=args.precision)
    print(f"exported {card.model_kind} policy ({card.parameter_count} parameters, obs {card.obs_dim}, "
          f"action {card.act_dim}, state {card.state_dim}) to {args.out}")
    return 0


def _save_checked(out: Path, policy: Any, fields: dict[str, Any], args: argparse.Namespace, episodes: int) -> Any:
    """Export into a temporary folder, run the ONNX check there, and put the bundle in place only if it
    passed (a failed check leaves ``out`` as it was)."""
    from liquidcontrol.evaluate.onnx_check import check_bundle, failure_reason
    from liquidcontrol.export.bundle import _check_replaceable, save_bundle, update_bundle_card
    from liquidcontrol.fileio import atomic_folder
    from liquidcontrol.tasks import get_task, task_for_env

    task = get_task(fields["task"]) if fields.get("task") else task_for_env(str(fields.get("env_id", "")))
    if task is None:
        raise LiquidControlError(f"the ONNX check needs the task of env {fields.get('env_id')!r}; none is registered "
                                 "(pass --check-episodes 0 to export unchecked).")
    _check_replaceable(out)
    with atomic_folder(out) as tmp:
        staged = tmp / "bundle"
        save_bundle(staged, policy, fields, exporter=args.exporter, precision=args.precision)
        check = check_bundle(policy, staged, task, episodes, action_tolerance=args.action_tolerance)
        print(json.dumps({"onnx_check": check}, indent=2))
        if not check["passed"]:
            raise LiquidControlError(f"the {args.precision} export failed the ONNX check against fp32: "
                                     f"{failure_reason(check)}; {out} was left as it was.")
        evaluation = {**dict(fields.get("evaluation") or {}), "onnx_check": check}
        card = update_bundle_card(staged, evaluation=evaluation)
        for item in staged.iterdir():
            item.rename(tmp / item.name)
        staged.rmdir()
    return card


def _env_layouts(env_id: str) -> dict[str, Any]:
    """Observation layouts and action bounds of a registered env (empty without the sim extra
    or for an unknown id: the card then keeps placeholder names)."""
    try:
        from liquidcontrol.export.layouts import env_card_fields

        fields = env_card_fields(env_id)
    except (ImportError, LiquidControlError):
        return {}
    return {k: fields[k] for k in ("observation", "action")}


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise LiquidControlError(f"cannot read card fields from {path} ({exc}).") from None
    if not isinstance(data, dict):
        raise LiquidControlError(f"{path} must hold a JSON object of card fields.")
    return data


def _load_source(source: Path) -> tuple[Any, dict[str, Any]]:
    """The torch policy and the card fields known from ``source``."""
    if (source / "card.json").is_file():
        from liquidcontrol.export.bundle import load_policy
        from liquidcontrol.runtime.card import load_card

        card = load_card(source)
        fields = {"env_id": card.env_id, "observation": card.observation, "action": card.action,
                  "training": card.training, "evaluation": card.evaluation}
        if card.task:
            fields["task"] = card.task
        return load_policy(source), fields
    if (source / "progress.json").is_file():
        from liquidcontrol.train.checkpoint import load_checkpoint

        policy, record, _ = load_checkpoint(source)
        recipe = dict(record.get("recipe") or {})
        evaluation = {k: v for k, v in record.items() if "success" in k or k in ("loss", "final_loss")}
        fields = {"env_id": str(recipe.get("env_id", "unknown")), "training": recipe, "evaluation": evaluation}
        if isinstance(recipe.get("task"), str) and recipe["task"]:
            from liquidcontrol.tasks import get_task

            task = get_task(recipe["task"])
            fields.update(env_id=task.env_id, task=task.name)
        return policy.eval(), fields
    raise LiquidControlError(
        f"{source} is neither a checkpoint folder (progress.json) nor a bundle folder (card.json)."
    )
