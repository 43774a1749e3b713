#!/usr/bin/env bash
# Benchmark: plan and apply between the SQLite CRM store and a vdir target.
# N generated items (default 100,000) for one CRM user; then, each RUNS
# times (median, min, max; peak memory over the runs):
#   - plan of a full send into an empty vdir;
#   - apply of that full send (a fresh vdir and state store each run);
#   - apply again with nothing to do (no-op re-apply);
#   - plan of a full send with every item already there;
#   - plan of a filtered get (events by start in a 3-month range, tasks by
#     due) from that vdir into another CRM user.
#
#   bash bench/sync.sh [ITEMS] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
items=${1:-100000}
runs=${2:-3}

cargo build --release --quiet
bin=$PWD/target/release/snapsync
# shellcheck source=bench/measure.sh
source bench/measure.sh
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cd "$dir"
mkdir -p snapshots.d vdir
cat >snapshots.d/bench.yaml <<'SPEC'
apiVersion: snapsync/v1
kind: Stores
metadata: { name: stores }
spec:
  crm: { sqlite: ../crm.sqlite }
  state: { sqlite: ../state.sqlite }
---
apiVersion: snapsync/v1
kind: Target
metadata: { name: bench }
spec:
  type: vdir
  path: ../vdir
  concurrency: 4
  links:
    - { name: sender, user: sender, scheduleItems: s/events, tasks: s/tasks, contacts: s/contacts }
---
# The same folder seen as a second target, for the get.
apiVersion: snapsync/v1
kind: Target
metadata: { name: mirror }
spec:
  type: vdir
  path: ../vdir
  links:
    - { name: getter, user: getter, scheduleItems: s/events, tasks: s/tasks, contacts: s/contacts }
---
apiVersion: snapsync/v1
kind: Snapshot
metadata: { name: send-full }
spec: { direction: send, target: bench, links: [sender] }
---
apiVersion: snapsync/v1
kind: Snapshot
metadata: { name: get-filtered }
spec:
  direction: get
  target: mirror
  links: [getter]
  timezone: Europe/Berlin
  filters:
    scheduleItems: { dateOption: start, range: { from: 2026-01-01, to: 2026-03-31 } }
    tasks: { dateOption: due, range: { from: 2026-01-01, to: 2026-03-31 } }
SPEC
"$bin" generate --items "$items" --seed 1 --per-file 1000 --out gen >/dev/null
"$bin" crm import -q --user sender gen


# A new empty vdir for each run: the last one is moved aside, not deleted,
# since ext4 creates files slower right after many were deleted (see
# bench/run.sh); the folder is removed at the end.
moved=0
fresh() {
    if [[ -n $(ls -A vdir) ]]; then
        mkdir -p old
        mv vdir "old/$((moved += 1))"
        mkdir vdir
    fi
    rm -rf state.sqlite*
    sync
}
echo "items: $items, runs: $runs, $(nproc) cores"
measure "plan: full send, empty vdir" fresh "$bin" plan -s send-full
measure "apply: full send, empty vdir" fresh "$bin" apply --yes -q -s send-full
measure "apply: again, nothing to do" ":" "$bin" apply --yes -q -s send-full
measure "plan: full send, all there" ":" "$bin" plan -s send-full
measure "plan: filtered get from vdir" ":" "$bin" plan -s get-filtered
