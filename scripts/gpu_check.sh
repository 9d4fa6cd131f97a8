#!/usr/bin/env bash
# GPU readiness check, under 10 minutes on one recent NVIDIA GPU: `make gpu-check` (or `bash scripts/gpu_check.sh DIR`).
# 1. `marie bench --device cuda` on the paper preset (SMAX 3m): per-phase timings, fraction of the measured matmul
#    peak, KV-cache check, memory; the JSON is kept.
#    Then the same bench with the world model in bfloat16 autocast (`marie.world_model.precision=bf16`, off by
#    default), on fewer starts, for the fp32-vs-bf16 speed pair.
# 2. A 3,000-step paper-preset SMAX 3m training run on CUDA (rounds from 1K steps, world model from round 10 at ~1.9K
#    steps, policy from round 20 at ~2.9K), so that the whole loop (collection, tokenizer, world model, imagination,
#    PPO, evaluation, checkpoint) runs on the device; its per-phase seconds are printed from metrics.csv.
# Needs a CUDA build of torch 2.13.0 in the environment (the default .venv has the CPU wheel).
set -euo pipefail
out=${1:-results/gpu_check}
rm -rf "$out" && mkdir -p "$out"
python - <<'PY'
import sys, torch
if not torch.cuda.is_available():
    sys.exit(f"gpu-check: no CUDA device visible to torch {torch.__version__} (cuda build: {torch.version.cuda})")
print(f"gpu-check: {torch.cuda.get_device_name(0)}, torch {torch.__version__}, CUDA {torch.version.cuda}")
PY
start=$(date +%s)
table() { python -c 'import json, sys; from marie.bench import _print_table; _print_table(json.load(open(sys.argv[1])))' "$1"; }
marie bench --device cuda --json > "$out/bench_paper.json"
table "$out/bench_paper.json"
marie bench --device cuda --json --collect-steps 500 --imagination-starts 200 \
  --set marie.world_model.precision=bf16 > "$out/bench_paper_bf16.json"
table "$out/bench_paper_bf16.json"
marie train --env smax --env_name 3m --seed 1 --steps 3000 --preset paper --n_workers 1 --device cuda \
  --out-dir "$out/run_smax_3m" --progress none
python - "$out" <<'PY'
import csv, json, sys
from pathlib import Path
out = Path(sys.argv[1])
done = json.loads((out / "run_smax_3m" / "COMPLETED").read_text())
rows = list(csv.DictReader(open(out / "run_smax_3m" / "metrics.csv")))
last = {r["metric"]: r["value"] for r in rows}
print(f"gpu-check run: {done['env_steps']} env steps in {done['wall_s']:.0f} s "
      f"({done['env_steps'] / max(done['wall_s'], 1e-9):.1f} env steps/s incl. learning)")
phases = {}
for r in rows:
    if r["metric"].endswith("/seconds"):
        phases[r["metric"]] = phases.get(r["metric"], 0.0) + float(r["value"])
print("  seconds per phase over the run:", {k: round(v, 1) for k, v in sorted(phases.items())})
print("  last values:", {k: last[k] for k in sorted(last) if k.startswith(("eval/", "world_model/", "actor_critic/"))})
PY
echo "gpu-check: done in $(( $(date +%s) - start )) s; outputs in $out"
