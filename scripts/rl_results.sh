#!/usr/bin/env bash
# Regenerates the measured PPO results in results/rl/ (README "Reinforcement learning").
# Long: several hours on 2 cores (the drone step alone about 3 h). Runs one training at a time; the run folders go to runs/rl/,
# the histories, summaries, sweeps and the benchmark into results/rl/.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
export MUJOCO_GL=${MUJOCO_GL:-egl}
RUNS=${RUNS:-runs/rl}
OUT=results/rl
mkdir -p "$RUNS" "$OUT"
BC=policies/pretrained/parking_cfc_ncp12
keep() {  # keep a run's measured curves and summary, not its weights
  mkdir -p "$OUT/$1"
  cp "$RUNS/$1/history.csv" "$RUNS/$1/history.json" "$OUT/$1/"
  [ -f "$RUNS/$1/summary.json" ] && cp "$RUNS/$1/summary.json" "$OUT/$1/"
  return 0
}
run() {  # run NAME ARGS...: a PPO training unless it already finished
  local name=$1; shift
  local resume=()
  [ -f "$RUNS/$name/checkpoint/progress.json" ] && resume=(--resume true)  # an interrupted run goes on
  [ -f "$RUNS/$name/summary.json" ] || $PY -m liquidcontrol train ppo --out "$RUNS/$name" --progress false \
      "${resume[@]}" "$@"
  keep "$name"
}
step=${1:-all}
if [ "$step" = all ] || [ "$step" = finetune ]; then
  # BC -> PPO on parking: the shipped 12-neuron imitation bundle, critic warmed up first
  run parking_finetune --task parking --init-from $BC --log-std-init -2.0 --lr 1e-4 --lr-schedule linear --steps 400000 \
      --eval-every 50000 --eval-episodes 200
  run parking_finetune_obs_noise --task parking --init-from $BC --log-std-init -2.0 --lr 1e-4 --lr-schedule linear --steps 400000 \
      --eval-every 50000 --eval-episodes 200 --train-perturbations obs_noise:3
fi
if [ "$step" = all ] || [ "$step" = finetune ] || [ "$step" = robustness ]; then
  # the three bundles side by side; links give each its own name in the report
  mkdir -p "$RUNS/bundles"
  ln -sfn "$PWD/$BC" "$RUNS/bundles/bc_dagger"
  ln -sfn "$PWD/$RUNS/parking_finetune/bundle" "$RUNS/bundles/bc_then_ppo"
  ln -sfn "$PWD/$RUNS/parking_finetune_obs_noise/bundle" "$RUNS/bundles/bc_then_ppo_obs_noise"
  $PY -m liquidcontrol eval --bundle "$RUNS/bundles/bc_dagger" "$RUNS/bundles/bc_then_ppo" \
      "$RUNS/bundles/bc_then_ppo_obs_noise" --perturbations obs_noise sensor_dropout rain --severities 1 3 5 \
      --episodes 50 --n-envs 8 --video false --progress false --out "$OUT/parking_finetune_robustness"
fi
if [ "$step" = all ] || [ "$step" = bench ]; then
  $PY -m liquidcontrol bench rl drone_single --json "$OUT/bench_rl.json"
fi
if [ "$step" = all ] || [ "$step" = scratch ]; then
  run parking_scratch --task parking --steps 1000000 --eval-every 100000 --check-episodes 0
fi
# PPO from scratch on drone_single: CfC-NCP 30 against an LSTM and an MLP of its 3276 trainable
# parameters, same settings and budget (at most 5 M env steps; a run ends at the first validation
# evaluation of >= 95 %), 3 seeds each. Runs are ordered so that an interrupted script leaves a
# balanced set; each finished one gets the held-out ONNX check of its best checkpoint.
DRONE=(--task drone_single --steps 5000000 --eval-every 125000 --stop-success 0.95 --check-episodes 0
       --lr 1e-3 --batch-size 512 --n-epochs 5 --log-std-init -1.0)
drone() {  # drone NAME SEED [ARGS...]
  local name=$1 seed=$2; shift 2
  run "$name" "${DRONE[@]}" --seed "$seed" "$@"
  local check="$OUT/$name/heldout_onnx_check.txt"
  if [ ! -f "$check" ]; then  # written whole or not at all, so an interrupted check runs again
    $PY -m liquidcontrol export "$RUNS/$name/best" --out "$RUNS/$name/bundle" --check-episodes 200 \
        > "$check.tmp" 2>&1 || true
    # kept only if it holds the check's record; an export that failed before it stays in .failed
    if grep -q '"onnx_check"' "$check.tmp"; then mv "$check.tmp" "$check"; else mv "$check.tmp" "$check.failed"; fi
  fi
}
if [ "$step" = all ] || [ "$step" = drone ]; then
  # SEEDS / MODELS pick a part, e.g. SEEDS=2 MODELS=lstm bash scripts/rl_results.sh drone
  for seed in ${SEEDS:-0 1 2}; do
    for model in ${MODELS:-cfc_ncp mlp lstm}; do
      case $model in
        cfc_ncp) drone "drone_single_cfc_ncp_s$seed" "$seed" ;;
        mlp|lstm) drone "drone_single_${model}_s$seed" "$seed" --kind "$model" --param-budget 3276 ;;
        *) echo "MODELS: unknown model $model (cfc_ncp, mlp, lstm)" >&2; exit 2 ;;
      esac
    done
  done
fi
if [ "$step" = all ] || [ "$step" = stability ]; then
  # Does success hold when training goes on past the stop (CfC-NCP seed 1 stopped at 0.38 M), with
  # and without a KL limit, and does the limit keep the MLP seed that collapsed (drone_single_mlp_s2)
  # from collapsing? Same settings as the drone step otherwise, at most 2 M env steps.
  drone drone_long_cfc_ncp_s1 1 --stop-success 0 --steps 2000000
  drone drone_long_target_kl_cfc_ncp_s1 1 --stop-success 0 --steps 2000000 --target-kl 0.02
  drone drone_target_kl_mlp_s2 2 --kind mlp --param-budget 3276 --target-kl 0.02 --steps 2000000
fi
# success vs env steps and vs wall time of every run kept so far
curves=()
for d in "$OUT"/*/; do
  case "$d" in */drone_*/) continue ;; esac  # the drone runs: own figures below
  [ -f "$d/history.json" ] && curves+=("${d%/}")
done
[ ${#curves[@]} -gt 0 ] && $PY -m liquidcontrol.rl.plot "$OUT/learning_curves.png" "${curves[@]}"
# one row per drone run (first success, steps to 90 %, best checkpoint, held-out ONNX check)
drone_runs=()
for d in "$OUT"/drone_single_*_s*/; do [ -f "$d/summary.json" ] && drone_runs+=("${d%/}"); done
[ ${#drone_runs[@]} -gt 0 ] && $PY -m liquidcontrol.rl.plot "$OUT/drone_single_curves.png" "${drone_runs[@]}"
[ ${#drone_runs[@]} -gt 0 ] && $PY -m liquidcontrol.rl.table "$OUT/drone_single_runs.csv" "${drone_runs[@]}" \
    | tee "$OUT/drone_single_runs.md"
stability=()
for d in "$OUT"/drone_single_cfc_ncp_s1 "$OUT"/drone_single_mlp_s2 "$OUT"/drone_long_*/ "$OUT"/drone_target_kl_*/; do
  [ -f "$d/summary.json" ] && stability+=("${d%/}")
done
[ ${#stability[@]} -gt 2 ] && $PY -m liquidcontrol.rl.plot "$OUT/drone_stability_curves.png" "${stability[@]}"
[ ${#stability[@]} -gt 2 ] && $PY -m liquidcontrol.rl.table "$OUT/drone_stability_runs.csv" "${stability[@]}" \
    | tee "$OUT/drone_stability_runs.md"
exit 0
