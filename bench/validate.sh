#!/usr/bin/env bash
# Benchmark: `snapsync validate` over a folder of N spec files (default 1,000):
# one Target per 10 files, each with 10 links; the other files are
# Snapshots that reference them, with filters and relative ranges.
# Prints the median, min and max wall time of several runs.
#
#   bash bench/validate.sh [FILES] [RUNS]
#   bash bench/validate.sh FILES --write DIR   (only write the specs into DIR;
#                                               bench/run.sh times them itself)
set -euo pipefail
cd "$(dirname "$0")/.."
files=${1:-1000}
runs=${2:-7}

if [[ $runs == --write ]]; then
    dir=${3:?bench/validate.sh: --write needs a folder}
    mkdir -p "$dir"
else
    cargo build --release --quiet
    bin=target/release/snapsync
    dir=$(mktemp -d)
    trap 'rm -rf "$dir"' EXIT
fi

for ((i = 0; i < files; i++)); do
    sub="$dir/group-$((i / 100))"
    mkdir -p "$sub"
    if ((i % 10 == 0)); then
        {
            printf 'apiVersion: snapsync/v1\nkind: Target\nmetadata:\n  name: target-%d\nspec:\n  type: vdir\n  path: vdir/%d\n  links:\n' "$i" "$i"
            for ((l = 0; l < 10; l++)); do
                printf '    - name: user-%d\n      user: user-%d\n      scheduleItems: user-%d/calendar\n      tasks: user-%d/tasks\n      contacts: user-%d/contacts\n' "$l" "$l" "$l" "$l" "$l"
            done
        } >"$sub/$(printf '%05d' "$i")-target.yaml"
    else
        target=$((i / 10 * 10))
        cat >"$sub/$(printf '%05d' "$i")-snapshot.yaml" <<SPEC
# yaml-language-server: \$schema=../schemas/snapsync.schema.json
apiVersion: snapsync/v1
kind: Snapshot
metadata:
  name: snapshot-$i
  labels: { ticket: OPS-$i }
spec:
  direction: send
  target: target-$target
  links: [user-1, user-2, user-3]
  timezone: Europe/Berlin
  filters:
    scheduleItems:
      dateOption: start
      range: { from: 2026-10-01, to: 2026-12-31 }
      recurrence: both
    tasks:
      dateOption: due
      range: { from: -30d, to: +90d }
      includeUndated: true
    contacts:
      range: { from: 2026-01-01 }
  maxDeletes: 100
SPEC
    fi
done

[[ $runs == --write ]] && exit 0

"$bin" validate "$dir" >/dev/null # warm the page cache; fails loudly if invalid
times=()
for ((r = 0; r < runs; r++)); do
    start=$(date +%s%N)
    "$bin" validate "$dir" >/dev/null
    end=$(date +%s%N)
    times+=($(((end - start) / 1000000)))
done
sorted=($(printf '%s\n' "${times[@]}" | sort -n))
echo "validate, $files files: median ${sorted[$((runs / 2))]} ms (min ${sorted[0]} ms, max ${sorted[$((runs - 1))]} ms, $runs runs)"
