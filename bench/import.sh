#!/usr/bin/env bash
# Benchmark: `snapsync crm import` of N generated items (default 100,000:
# 60% events, a fifth of them recurring; 25% tasks; 15% contacts) from
# files of 500 items, then `crm export` of them (one file per item), then
# `crm import` of that export. Each step runs RUNS times on a fresh store
# or folder; prints the median, min and max wall time, items/s at the
# median, and the largest peak memory (RSS).
#
#   bash bench/import.sh [ITEMS] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
items=${1:-100000}
runs=${2:-5}

cargo build --release --quiet
bin=$PWD/target/release/snapsync
# shellcheck source=bench/measure.sh
source bench/measure.sh
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cd "$dir"
"$bin" generate --items "$items" --seed 1 --per-file 500 --out gen


echo "items: $items, runs: $runs, $(nproc) cores"
measure "import (500 per file)" "rm -f crm.sqlite*" \
    "$bin" crm import --user bench --crm crm.sqlite gen
# Each export into a new folder: the last one is moved aside, not deleted
# (ext4 creates files slower right after many were deleted; see bench/run.sh).
moved=0
aside() {
    if [[ -d out ]]; then
        mkdir -p old
        mv out "old/$((moved += 1))"
    fi
    sync
}
measure "export (a file per item)" aside \
    "$bin" crm export --user bench --crm crm.sqlite --out out
measure "import (a file per item)" "rm -f again.sqlite*" \
    "$bin" crm import --user bench --crm again.sqlite out
