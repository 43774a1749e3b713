#!/usr/bin/env bash
# Benchmark (issue 6): snapsync against Radicale, next to vdirsyncer and a
# bare loop of PUTs doing the same job.
#
# N generated items (default 2,000; seed 1; the generator's mix: 60%
# events, a fifth of them recurring, 25% tasks, 15% contacts) for one CRM
# user, in three collections: alice/calendar/, alice/tasks/,
# alice/contacts/. Then, RUNS times (default 3), each job on a fresh
# Radicale (own storage, free loopback port, fresh empty collections):
#   - snapsync send: `apply --yes` of a full send into the empty collections;
#   - snapsync get: `apply --yes` of a full get from that filled server into
#     an empty CRM store (fails unless every item comes back);
#   - vdirsyncer send: `vdirsyncer sync` of the same items, exported as a
#     vdir by `snapsync crm export`, into the empty collections (one pair
#     per collection, the vdir read-only; `vdirsyncer discover` runs first
#     and is not timed);
#   - bare PUT loop: bench/caldav.py PUTs every file of that vdir, one after
#     the other with If-None-Match: *, on one connection kept alive where
#     the server allows (Radicale's built-in server answers HTTP/1.0 and
#     closes after each answer, for every client).
# Every write job fails unless the server holds N items afterwards.
#
# Measured per job: wall time, the client's user+sys CPU and peak RSS
# (/usr/bin/time), the server's CPU (utime+stime of the Radicale process
# from /proc, before and after), and the requests by method (Radicale logs
# one line per request at level info). Radicale checks every stored item of
# the collection on each PUT, so its write cost grows with the collection:
# compare jobs at the same N, not across Ns.
#
#   bash bench/caldav.sh [ITEMS] [RUNS]
#
# BENCH_CONCURRENCY=N sets the target's `concurrency` (snapsync's parallel
# writes; default 4) for a comparison.
#
# The Python tools (Radicale, vdirsyncer) are pinned in bench/requirements.txt
# and installed into bench/.venv, when that file changed since the last
# install. bench/measure.sh's `measure` is not used: each run here needs its
# own server, and the server's CPU and requests are measured too.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
items=${1:-2000}
runs=${2:-3}
concurrency=${BENCH_CONCURRENCY:-}

for tool in python3 cargo awk sed nproc getconf; do
    command -v "$tool" >/dev/null || {
        echo "bench/caldav.sh: $tool is needed and not found" >&2
        exit 1
    }
done
[[ -x /usr/bin/time ]] || {
    echo "bench/caldav.sh: /usr/bin/time is needed (Debian: apt-get install time)" >&2
    exit 1
}
((items >= 100)) || {
    echo "bench/caldav.sh: at least 100 items, so that each collection gets some" >&2
    exit 1
}

# The benchmark's own virtualenv, installed when the pins changed.
venv=$repo/bench/.venv
requirements=bench/requirements.txt
if ! "$venv/bin/python" -c '' >/dev/null 2>&1; then
    rm -rf "$venv"
    python3 -m venv "$venv"
fi
if ! cmp -s "$requirements" "$venv/installed-requirements.txt"; then
    echo "installing $requirements into bench/.venv" >&2
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
    cp "$requirements" "$venv/installed-requirements.txt"
fi
python=$venv/bin/python
helper=$repo/bench/caldav.py

cargo build --release --quiet
bin=$repo/target/release/snapsync
ticks_per_second=$(getconf CLK_TCK)
load_at_start=$(cut -d' ' -f1-3 /proc/loadavg)

export BENCH_DAV_USER=alice BENCH_DAV_PASSWORD=bench-password
dir=$(mktemp -d)
server_pid=
cleanup() {
    # Only the server this script started, by its id.
    if [[ -n $server_pid ]]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
cd "$dir"

# A fresh Radicale in a new folder: sets server_pid, server_dir, url.
start_server() {
    server_dir=$(mktemp -d "$dir/radicale.XXXX")
    local port
    port=$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    printf '%s:%s\n' "$BENCH_DAV_USER" "$BENCH_DAV_PASSWORD" >"$server_dir/users"
    cat >"$server_dir/config" <<CONFIG
[server]
hosts = 127.0.0.1:$port
[auth]
type = htpasswd
htpasswd_filename = $server_dir/users
htpasswd_encryption = plain
delay = 0
[rights]
type = owner_only
[storage]
filesystem_folder = $server_dir/storage
[web]
type = none
# info: one line per request, which requests() counts
[logging]
level = info
mask_passwords = True
CONFIG
    env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="$server_dir" LC_ALL=C.UTF-8 \
        PYTHONDONTWRITEBYTECODE=1 \
        "$venv/bin/radicale" --config "$server_dir/config" \
        </dev/null >"$server_dir/radicale.log" 2>&1 &
    server_pid=$!
    url=http://127.0.0.1:$port
    local tries
    for ((tries = 0; tries < 300; tries++)); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            break
        fi
        if ! kill -0 "$server_pid" 2>/dev/null; then
            echo "Radicale exited before answering; its output:" >&2
            cat "$server_dir/radicale.log" >&2
            exit 1
        fi
        sleep 0.1
    done
    ((tries < 300)) || {
        echo "Radicale did not answer on port $port within 30 s; its output:" >&2
        cat "$server_dir/radicale.log" >&2
        exit 1
    }
    for kind in calendar tasks contacts; do
        "$python" "$helper" mkcol "$url/alice/$kind/" "$kind"
    done
}

stop_server() {
    kill "$server_pid"
    wait "$server_pid" 2>/dev/null || true
    server_pid=
}

# utime + stime of the server so far, in clock ticks.
server_ticks() {
    sed 's/.*) //' "/proc/$server_pid/stat" | awk '{ print $12 + $13 }'
}

# Requests the server logged after line $1 of its log, as METHOD=N,...
requests_since() {
    tail -n +"$(($1 + 1))" "$server_dir/radicale.log" |
        sed -n "s/.* \([A-Z][A-Z]*\) request for '.*/\1/p" |
        sort | uniq -c | awk '{ printf "%s%s=%d", (NR > 1 ? "," : ""), $2, $1 }'
}

# `timed JOB RUN COMMAND...`: runs COMMAND against the current server and
# appends a row to results.tsv; COMMAND's output goes to JOB.out.
timed() {
    local job=$1 run=$2
    shift 2
    local lines before after wall user sys rss
    lines=$(wc -l <"$server_dir/radicale.log")
    before=$(server_ticks)
    if ! /usr/bin/time -f '%e %U %S %M' -o time.txt "$@" >"$job.out" 2>&1; then
        echo "$job failed (run $run):" >&2
        cat "$job.out" >&2
        exit 1
    fi
    after=$(server_ticks)
    read -r wall user sys rss <time.txt
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$job" "$run" "$wall" "$user" "$sys" "$rss" \
        "$(awk -v t=$((after - before)) -v hz="$ticks_per_second" 'BEGIN { print t / hz }')" \
        "$(requests_since "$lines")" >>results.tsv
}

# Fails unless the server's three collections hold every item.
check_server_holds_all() {
    local held
    held=$("$python" "$helper" count "$url/alice/calendar/" "$url/alice/tasks/" "$url/alice/contacts/")
    if ((held != items)); then
        echo "$1: the server holds $held items after the job, not $items" >&2
        exit 1
    fi
}

# The data: generated, imported into the CRM store the send reads, and
# exported as the vdir that vdirsyncer and the bare loop read.
"$bin" generate --items "$items" --seed 1 --per-file 500 --out gen >/dev/null
"$bin" crm import -q --user bench --crm crm.sqlite gen
"$bin" crm export -q --user bench --crm crm.sqlite --out vdir
exported=$(find vdir -type f | wc -l)
((exported == items)) || {
    echo "the export holds $exported items, not $items" >&2
    exit 1
}

# The specs, for a server at $url.
write_specs() {
    mkdir -p snapshots.d
    cat >snapshots.d/bench.yaml <<SPEC
apiVersion: snapsync/v1
kind: Target
metadata: { name: radicale }
spec:
  type: caldav
  url: $url/
  auth: { username: alice, passwordEnv: BENCH_DAV_PASSWORD }
${concurrency:+  concurrency: $concurrency
}  links:
    - { name: bench, user: bench, scheduleItems: alice/calendar/, tasks: alice/tasks/, contacts: alice/contacts/ }
---
apiVersion: snapsync/v1
kind: Snapshot
metadata: { name: send-all }
spec: { direction: send, target: radicale }
---
apiVersion: snapsync/v1
kind: Snapshot
metadata: { name: get-all }
spec: { direction: get, target: radicale }
SPEC
}

# vdirsyncer's config, for a server at $url: one pair per collection.
write_vdirsyncer_config() {
    rm -rf vdirsyncer-status
    {
        printf '[general]\nstatus_path = "%s/vdirsyncer-status/"\n' "$dir"
        local name folder kind ext
        for name in calendar tasks contacts; do
            case $name in
            calendar) folder=scheduleItems kind=caldav ext=.ics ;;
            tasks) folder=tasks kind=caldav ext=.ics ;;
            contacts) folder=contacts kind=carddav ext=.vcf ;;
            esac
            cat <<PAIR

[pair $name]
a = "${name}_vdir"
b = "${name}_dav"
collections = null
conflict_resolution = "a wins"

[storage ${name}_vdir]
type = "filesystem"
path = "$dir/vdir/$folder/"
fileext = "$ext"
read_only = true

[storage ${name}_dav]
type = "$kind"
url = "$url/alice/$name/"
username = "$BENCH_DAV_USER"
password = "$BENCH_DAV_PASSWORD"
PAIR
        done
    } >vdirsyncer.conf
}
export VDIRSYNCER_CONFIG=$dir/vdirsyncer.conf

: >results.tsv
for ((run = 1; run <= runs; run++)); do
    echo "run $run of $runs" >&2

    start_server
    write_specs
    rm -rf state.sqlite*
    timed "snapsync send" "$run" "$bin" apply --yes -q --crm crm.sqlite --state state.sqlite -s send-all
    check_server_holds_all "snapsync send"
    rm -rf got.sqlite* got-state.sqlite*
    timed "snapsync get" "$run" "$bin" apply --yes -q --crm got.sqlite --state got-state.sqlite -s get-all
    got=$("$bin" crm users --crm got.sqlite --format json |
        "$python" -c 'import json, sys; print(sum(u["scheduleItems"] + u["tasks"] + u["contacts"] for u in json.load(sys.stdin)["users"]))')
    if ((got != items)); then
        echo "snapsync get: the CRM store holds $got items after the get, not $items" >&2
        exit 1
    fi
    stop_server

    start_server
    write_vdirsyncer_config
    "$venv/bin/vdirsyncer" discover >vdirsyncer-discover.out 2>&1 || {
        cat vdirsyncer-discover.out >&2
        exit 1
    }
    timed "vdirsyncer send" "$run" "$venv/bin/vdirsyncer" sync
    check_server_holds_all "vdirsyncer send"
    stop_server

    start_server
    timed "bare PUT loop" "$run" "$python" "$helper" put-loop \
        "$url/alice/calendar/=vdir/scheduleItems" \
        "$url/alice/tasks/=vdir/tasks" \
        "$url/alice/contacts/=vdir/contacts"
    check_server_holds_all "bare PUT loop"
    stop_server
done

calendar=$(find vdir/scheduleItems -type f | wc -l)
tasks=$(find vdir/tasks -type f | wc -l)
contacts=$(find vdir/contacts -type f | wc -l)
echo
echo "CalDAV/CardDAV benchmark: $items items ($calendar events, $tasks tasks, $contacts contacts), $runs runs${concurrency:+, snapsync concurrency $concurrency}"
echo "$(nproc) cores; load average (1, 5, 15 min) $load_at_start at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end"
echo "Radicale $("$venv/bin/radicale" --version 2>/dev/null | tail -1), vdirsyncer $("$venv/bin/vdirsyncer" --version | awk '{ print $NF }')"
echo
"$python" "$helper" table results.tsv "$calendar" "$tasks" "$contacts"
