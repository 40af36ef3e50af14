#!/usr/bin/env bash
# Rebuild data_samples/ (the shipped cohort tables, clef-tiny checkpoint, store, index, map) and
# benchmarks/results/probe/ from nothing. CPU only; about 1.5 h on 2 cores.
#   make sample                      # or: bash scripts/build_data_samples.sh [WORK_DIR]
# WORK_DIR keeps the token caches and baselines (a few GB); it is not part of the repository.
set -euo pipefail
cd "$(dirname "$0")/.."
CLEF=${CLEF:-.venv/bin/clef}
PY=${PY:-.venv/bin/python}
W=${1:-.cache/sample-build}
mkdir -p "$W"
SEED=2026

# Each training step is skipped when its output exists (rerun after an interruption; delete an
# output folder to retrain it).
# 1. synthetic cohort: 2,000 ten-minute sessions, tables only (signals regenerate from the seed)
[ -f "$W/cohort/cohort.json" ] || $CLEF synth --n-sessions 2000 --out "$W/cohort" --seed $SEED \
  --minutes 10 --signals none

# 2. Stage 1 (masked reconstruction plus the session-summary term, 1,000 steps: the length
#    chosen in benchmarks/results/stage1_summary.md) once: it is also the reconstruction-only
#    baseline. Stage 2 aligns a locked copy of that encoder (attention pool, EEG projection, EHR tower) to each
#    report's affirmed statements and findings summary (multi-positive InfoNCE, clef.text) and to
#    the EHR, in the locked text backbone's space (the defaults: --text-target findings,
#    --freeze-text): the CLEF checkpoint. Then the short-window baseline. One torch thread each
#    (faster on 2 shared cores).
[ -f "$W/clef-tiny-recon/config.json" ] || $CLEF pretrain --cohort "$W/cohort" --config clef-tiny \
  --stage recon --out "$W/clef-tiny-recon" --work-dir "$W/work-recon" --cache-dir "$W/cache" \
  --workers 2 --threads 1 --steps 1000 --batch-size 32 --ckpt-every 250 --eval-sessions 0 --seed 0 \
  --summary-weight 1.0
[ -f "$W/clef-tiny/config.json" ] || $CLEF pretrain --cohort "$W/cohort" --config clef-tiny \
  --stage align --init-from "$W/clef-tiny-recon" --freeze-encoder --pool-token-drop 0.3 \
  --align-recon-weight 0 \
  --out "$W/clef-tiny" --work-dir "$W/work" --cache-dir "$W/cache" --threads 1 --steps 1500 \
  --batch-size 128 --lr 1e-3 --ckpt-every 500 --eval-sessions 256 --seed 0
[ -f "$W/clef-tiny-sw/config.json" ] || $CLEF pretrain --cohort "$W/cohort" --config clef-tiny \
  --arch short-window --stage recon \
  --out "$W/clef-tiny-sw" --work-dir "$W/work-sw" --cache-dir "$W/cache-sw" --workers 1 \
  --threads 1 --steps 150 --batch-size 32 --max-sessions 800 --ckpt-every 50 --eval-sessions 0 \
  --seed 0
$PY -c "from clef.model import CLEFModel; import torch; torch.manual_seed(7919); \
CLEFModel('clef-tiny').save_pretrained('$W/clef-tiny-random')"

# 3. the shipped bundle: checkpoint, cohort tables, store (token cache reused), index with its
#    map inside (index/map: where clef index writes it and the dashboard reads it)
rm -rf data_samples/clef-tiny data_samples/cohort data_samples/store data_samples/index
cp -r "$W/clef-tiny" data_samples/clef-tiny
rm -rf data_samples/clef-tiny/cache data_samples/clef-tiny/checkpoints
mkdir -p data_samples/cohort
cp "$W"/cohort/{sessions,tasks,oracle}.parquet "$W/cohort/cohort.json" data_samples/cohort/
$CLEF embed --cohort data_samples/cohort --checkpoint data_samples/clef-tiny --out data_samples/store \
  --scheduler none --token-cache "$W/cache/tokens" --batch-size 16
$CLEF index --store data_samples/store --out data_samples/index --map  # map: data_samples/index/map
echo '{"created_by": "scripts/build_data_samples.sh", "parts": {"checkpoint": "clef-tiny"}}' \
  > data_samples/bundle.json

# 4. clinical-semantics ablation on the same split: whole-report alignment vs findings-level
#    (printed in the probe summary of step 5)
for T in report findings; do
  [ -f "$W/abl-$T/config.json" ] || $CLEF pretrain --cohort "$W/cohort" \
    --config data_samples/clef-tiny/config.json --stage align --text-target $T \
    --init-from "$W/clef-tiny-recon" --freeze-encoder --pool-token-drop 0.3 \
    --align-recon-weight 0 --out "$W/abl-$T" --work-dir "$W/work-abl-$T" --cache-dir "$W/cache" \
    --threads 1 --steps 1500 --batch-size 128 --lr 1e-3 --ckpt-every 250 --eval-sessions 256 --seed 0
done
$PY benchmarks/semantics.py --cohort "$W/cohort" --token-cache "$W/cache/tokens" \
  --states-dir "$W/states" --model "shipped (findings)=data_samples/clef-tiny" \
  --model "whole report=$W/abl-report" --model "findings=$W/abl-findings" \
  --out benchmarks/results/semantics_ablation.md

# 5. baseline stores and probing: CLEF vs baselines, site-A held-out patients and external site B
for m in clef-tiny-recon clef-tiny-random; do
  $CLEF embed --cohort "$W/cohort" --checkpoint "$W/$m" --out "$W/store-$m" --scheduler none \
    --token-cache "$W/cache/tokens" --batch-size 16
done
$CLEF embed --cohort "$W/cohort" --checkpoint "$W/clef-tiny-sw" --out "$W/store-clef-tiny-sw" \
  --scheduler none --token-cache "$W/cache-sw/tokens" --batch-size 16
$CLEF probe --cohort "$W/cohort" --checkpoint data_samples/clef-tiny --out benchmarks/results/probe \
  --baselines recon,short-window,band-power,random,oracle \
  --embeddings clef=data_samples/store --embeddings recon="$W/store-clef-tiny-recon" \
  --embeddings short-window="$W/store-clef-tiny-sw" --embeddings random="$W/store-clef-tiny-random" \
  --cache "$W/probe-cache" --n-jobs 2 --compare-to benchmarks/results/probe_before \
  --append benchmarks/results/semantics_ablation.md
rm -rf data_samples/probe && cp -r benchmarks/results/probe data_samples/probe
