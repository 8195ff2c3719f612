#!/usr/bin/env bash
# Recreate the tabular monotone benchmark end to end (about 1-1.5 h of one CPU core).
# Needs a venv with jacnet (pip install -e .), monotonenorm, xgboost, scikit-learn,
# vega_datasets and pandas; torch pinned (torch==2.13.0 CPU).
#   PY=/work/bench/.venv/bin/python bash benchmarks/tabular/run_all.sh
set -euo pipefail
PY=${PY:-/work/bench/.venv/bin/python}
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
cd "$(dirname "$0")/../.."
$PY benchmarks/tabular/make_data.py                         # CSVs -> $TABULAR_DATA (/work/bench/tabular_data)
$PY benchmarks/tabular/study.py lr_width stage2 stage3     # jacnet train -m sweeps + jacnet report
$PY benchmarks/tabular/study.py --summary                  # study_summary.json
$PY benchmarks/tabular/analyse.py                          # study_ranking.json (paired ratios vs today's defaults)
$PY benchmarks/tabular/compare.py honest                   # jacnet (today / recommended / ensemble), LMN, XGBoost, MLP
$PY benchmarks/tabular/compare.py published --tables heart,autompg,compas --models jacnet,lmn --seeds 0,1,2
$PY benchmarks/tabular/linear_skip.py diabetes autompg heart compas   # what-if, benchmark only
$PY benchmarks/tabular/timing.py --config recommended      # under flock /work/bench/timing.lock
$PY benchmarks/tabular/timing.py --config default
$PY - <<'PY'
import json
rows = [json.loads(l) for l in open("/work/bench/tabular_runs/timing/timing.jsonl")]
json.dump({"runs": {r["config"]: r for r in rows}}, open("benchmarks/tabular/timing.json", "w"), indent=1)
PY
$PY benchmarks/tabular/compare.py write                    # results.json, tables.md
