#!/usr/bin/env bash
# The benchmark suite (issue 7): one command that builds the release binary,
# generates the data with the project's own seeded generator, runs every
# benchmark and prints one table (median, min and max of several runs, and
# the largest peak memory), the ratios and the goals with PASS or MISS.
#
#   bash bench/run.sh [--quick] [--keep] [--loop] [--sizes N,N,...] [--only PHASES]
#
#   --quick   small sizes, for development: 1,000 and 10,000 items, links
#             shapes of 10,000 items, the peer comparison at 1,000 items,
#             the CalDAV job at 200 items (about 2 minutes)
#   --keep    keep the work folder (it is printed) instead of removing it
#   --loop    measure on a fresh ext4 file system, loop-mounted, instead of
#             the work folder's own file system (see below)
#   --sizes   the item counts of the sizes phase (default 1000,10000,100000,1000000)
#   --only    a comma-separated subset of: sizes,links,peer,caldav
#
# Environment: BENCH_DIR (where the work folder is made; default $TMPDIR or
# /tmp), BENCH_STEP_BUDGET (seconds; a step stops adding runs once its
# timed runs took this long, at least one run is made; default 60),
# BENCH_CALDAV_ITEMS and BENCH_CALDAV_RUNS (the items and runs of
# bench/caldav.sh; default 500 and 1: Radicale spends 25-45 ms on each PUT,
# so the three write jobs take about 40 s each at 500 items, 90 at 2,000).
#
# Phases:
#   sizes   per N: generate N items (seed 1) in files of 1,000, then measure
#           validate, `crm import` into a fresh store, plan of a full send
#           into an empty vdir, apply of it (a new empty vdir and a fresh
#           state store each run), apply again with nothing to do, and plan
#           with everything in place. Runs: 5 up to 10,000 items, 3 above
#           (fewer when a step exceeds the budget), and one apply at
#           1,000,000.
#   links   the same 100,000 items (seed 1) as 1 link of 100,000, 100 links
#           of 1,000 and 1,000 links of 100 (one CRM user per link, imported
#           one after the other; one target, one snapshot covering every
#           link): validate, plan, apply, no-op re-apply, plan again. The
#           1-link figures are those of the sizes phase at the same N.
#   peer    10,000 items, pair by pair in one run, the order rotating:
#           `cp -r` of a vdir tree, snapsync's full send into an empty vdir
#           (fresh state store included), vdirsyncer syncing that tree into
#           an empty vdir (`discover` untimed), and, where `eatmydata` is
#           installed, snapsync with fsync turned into a no-op (a diagnostic,
#           not a goal). Ratios per pair, then their median.
#   caldav  bench/caldav.sh (snapsync against Radicale), 500 items, its
#           table included as it prints it; skipped with a note if missing.
#
# Nothing is deleted while measuring: every apply, copy and sync writes into
# a new folder, and the work folder is removed at the end. ext4 skips inodes
# freed within the last minutes when it allocates new ones
# (recently_deleted() in fs/ext4/ialloc.c): on this machine `cp -r` of
# 100,000 files took 5.4 s into a fresh folder and 15.6 s right after an
# `rm -rf` of 100,000 files. Deleting between runs would measure that. Hence
# the room it needs (checked before anything runs; about 13 GiB for the full
# run), and the removal at the end, of some 2 million files, which takes
# minutes: it runs in the background after the summary, and a next run
# waits for it. For the same reason, start a run on a file system where
# nothing deleted many files in the last minutes.
#
# --loop puts the data on a fresh ext4 file system instead, in an image
# file in the work folder, loop-mounted with direct I/O (root and loop
# devices are needed): for a shared machine, where other jobs delete files
# all the time (cp -r of 10,000 files: 0.33 s there, 6.0 s on this
# machine's root file system while other jobs ran), and the removal takes a
# second. Its price: each fsync goes through two journals (the image's and
# the host's), which made snapsync's full send of 10,000 items about twice
# as slow here (5 s against 2.5 s), so its figures are not those of a disk.
#
# The Python tools (vdirsyncer, Radicale) are pinned in bench/requirements.txt
# and installed into bench/.venv when that file changed since the last
# install.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
suite_start=$(date +%s)

quick=0 keep=0 use_loop=0 sizes="" only="sizes,links,peer,caldav"
while (($#)); do
    case $1 in
    --quick) quick=1 ;;
    --keep) keep=1 ;;
    --loop) use_loop=1 ;;
    --sizes)
        sizes=$2
        shift
        ;;
    --only)
        only=$2
        shift
        ;;
    -h | --help)
        sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    *)
        echo "bench/run.sh: unknown argument $1 (try --help)" >&2
        exit 2
        ;;
    esac
    shift
done
wants() { [[ ,$only, == *,$1,* ]]; }

if ((quick)); then
    sizes=${sizes:-1000,10000}
    link_total=10000 link_runs=3
    peer_items=1000 pairs=3
    caldav_items=200 caldav_runs=1
else
    sizes=${sizes:-1000,10000,100000,1000000}
    link_total=100000 link_runs=3
    peer_items=10000 pairs=5
    caldav_items=${BENCH_CALDAV_ITEMS:-500} caldav_runs=${BENCH_CALDAV_RUNS:-1}
fi
IFS=, read -r -a size_list <<<"$sizes"
budget=${BENCH_STEP_BUDGET:-60}
link_shapes=(100 1000)

# Runs per step at N items (the step budget may make fewer).
runs_for() {
    if (($1 <= 10000)); then
        echo $((quick ? 3 : 5))
    else
        echo 3
    fi
}

# Runs of the apply into an empty vdir, which writes N new files each time:
# one at 1,000,000 items (over a minute, and a million more files to keep).
apply_runs_for() {
    if (($1 <= 100000)); then
        runs_for "$1"
    else
        echo 1
    fi
}

for tool in cargo python3 awk sed sort df find cp; do
    command -v "$tool" >/dev/null || {
        echo "bench/run.sh: $tool is needed and not found" >&2
        exit 1
    }
done
[[ -x /usr/bin/time ]] || {
    echo "bench/run.sh: /usr/bin/time is needed (Debian: apt-get install time)" >&2
    exit 1
}

# ---------------------------------------------------------------- work folder
base=${BENCH_DIR:-${TMPDIR:-/tmp}}
mkdir -p "$base"
# An earlier run's work folder still being removed (in the background, see
# cleanup) would slow this run's writes: wait for it, or finish the removal
# if nothing is removing it any more.
for gone in "$base"/snapsync-bench-removing.*; do
    [[ -e $gone ]] || continue
    if pgrep -f "rm -rf $gone" >/dev/null; then
        echo "waiting for the removal of an earlier run's work folder ($gone)"
        while pgrep -f "rm -rf $gone" >/dev/null; do sleep 2; done
    fi
    rm -rf "$gone"
done
work=$(mktemp -d "$base/snapsync-bench.XXXXXX")
data=$work loopdev="" image=""
unmount() {
    if [[ -n $loopdev ]]; then
        sync
        umount "$work/fs" || { sleep 2 && umount "$work/fs"; } || true
        losetup -d "$loopdev" || true
        loopdev=""
    fi
}
cleanup() {
    local status=$?
    cd "$repo"
    unmount
    if ((keep)); then
        echo "work folder kept: $work"
        if [[ -n $image ]]; then
            echo "  (the data is in $image: mount -o loop $image DIR to look at it)"
        fi
    else
        # Removing a million files or more takes minutes here: it goes on in
        # the background, at the lowest priorities, under a name the next
        # run waits for (see below).
        local gone=$base/snapsync-bench-removing.${work##*.}
        mv "$work" "$gone"
        nohup nice -n 19 ionice -c 3 rm -rf "$gone" >/dev/null 2>&1 &
        echo "removing the work folder in the background ($gone; it takes a few minutes after a full run)"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Disk space and inodes: every file written stays until the end (see above).
# A vdir file takes a 4 KiB block; the stores and generated files take about
# 2 KiB per item.
files=0 store_items=0
if wants sizes; then
    for n in "${size_list[@]}"; do
        files=$((files + n * $(apply_runs_for "$n")))
        store_items=$((store_items + n))
    done
fi
if wants links; then
    files=$((files + ${#link_shapes[@]} * link_runs * link_total))
    store_items=$((store_items + ${#link_shapes[@]} * link_total))
    if ! wants sizes || [[ ,$sizes, != *,$link_total,* ]]; then
        files=$((files + link_total * $(apply_runs_for "$link_total")))
        store_items=$((store_items + link_total))
    fi
fi
if wants peer; then
    files=$((files + peer_items * (1 + 4 * pairs)))
    store_items=$((store_items + peer_items))
fi
need_kib=$(((files * 9 / 2 + store_items * 2) * 11 / 10 + 262144))
need_inodes=$((files * 11 / 10 + 100000))
# The file system image adds its inode tables (256 bytes an inode) and a journal.
image_kib=$((need_kib + need_inodes / 4 + 1048576))
read -r avail_kib < <(df -Pk "$work" | awk 'NR == 2 { print $4 }')
read -r avail_inodes < <(df -Pi "$work" | awk 'NR == 2 { print $4 }')
# Some file systems (btrfs) report no inode limit: "-" or 0 free.
if ! [[ ${avail_inodes:-} =~ ^[0-9]+$ ]] || ((avail_inodes == 0)); then
    avail_inodes=$need_inodes
fi
gib() { awk -v k="$1" 'BEGIN { printf "%.1f GiB", k / 1048576 }'; }
short() {
    cat >&2 <<EOF
bench/run.sh: not enough room in $base for the benchmarks.
  needed:    $1 ($files files are written, none deleted until the end)
  available: $(gib "$avail_kib") and $avail_inodes inodes
Point BENCH_DIR at a file system with more room, or leave out the largest
size (--sizes 1000,10000,100000), or run --quick.
EOF
    exit 1
}

# With --loop, the data goes on a fresh ext4 file system in an image file in
# the work folder, loop-mounted with direct I/O (see the top).
host_fs=$(df -PT "$work" | awk 'NR == 2 { print $2 " (" $1 ")" }')
where="$work on $host_fs, directly"
if ((use_loop)); then
    ((avail_kib >= image_kib)) || short "$(gib "$image_kib") for the file system image"
    if ((EUID == 0)) && command -v mkfs.ext4 >/dev/null && command -v losetup >/dev/null; then
        image=$work/fs.img
        fallocate -l "${image_kib}K" "$image" 2>/dev/null || truncate -s "${image_kib}K" "$image"
        mkfs.ext4 -q -F -N "$need_inodes" -E lazy_itable_init=0,lazy_journal_init=0 "$image"
        mkdir -p "$work/fs"
        loopdev=$(losetup --find --show --direct-io=on "$image" 2>/dev/null ||
            losetup --find --show "$image" 2>/dev/null || true)
        if [[ -n $loopdev ]] && mount "$loopdev" "$work/fs"; then
            data=$work/fs
            dio=""
            if [[ $(losetup -n -O DIO "$loopdev" | tr -d ' ') == 1 ]]; then
                dio=", direct I/O"
            fi
            where="a fresh ext4 file system ($(gib "$image_kib"), loop device$dio) in an image in $work on $host_fs"
        else
            if [[ -n $loopdev ]]; then
                losetup -d "$loopdev"
            fi
            loopdev="" image=""
            rm -f "$work/fs.img"
            echo "bench/run.sh: could not mount a fresh file system; measuring on $host_fs directly (--loop)" >&2
        fi
    else
        echo "bench/run.sh: a fresh file system needs root, mkfs.ext4 and losetup; measuring on $host_fs directly (--loop)" >&2
    fi
fi
if [[ $data == "$work" ]]; then
    ((avail_kib >= need_kib && avail_inodes >= need_inodes)) ||
        short "$(gib "$need_kib") and $need_inodes inodes"
fi

# ---------------------------------------------------------------- the machine
cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
mem=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
machine="$(nproc) cores ($cpu), $mem RAM, $(uname -sr)"
commit=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)
git -C "$repo" diff --quiet HEAD -- src Cargo.toml Cargo.lock 2>/dev/null || commit="$commit (with local changes)"

echo "== snapsync benchmark suite$( ((quick)) && echo ' (--quick)')"
echo "machine: $machine"
echo "data: $where"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "needs about $(gib "$need_kib") and $need_inodes inodes; $(gib "$avail_kib") free in $base"
echo "snapsync $commit; step budget ${budget} s"

results=$work/results.tsv
: >"$results"
phases=()
phase_start=$SECONDS
phase_done() {
    phases+=("$1 $((SECONDS - phase_start)) s")
    phase_start=$SECONDS
}

# ---------------------------------------------------------------- build
echo
echo "== build (cargo build --release)"
cargo build --release --locked --quiet
target_dir=${CARGO_TARGET_DIR:-target}
[[ $target_dir == /* ]] || target_dir=$repo/$target_dir
bin=$target_dir/release/snapsync
phase_done build

# The benchmark's own virtualenv (shared with bench/caldav.sh).
venv=$repo/bench/.venv
vdirsyncer=""
if wants peer; then
    requirements=$repo/bench/requirements.txt
    if ! "$venv/bin/python" -c '' >/dev/null 2>&1; then
        rm -rf "$venv"
        python3 -m venv "$venv"
    fi
    if ! cmp -s "$requirements" "$venv/installed-requirements.txt"; then
        echo "installing $requirements into bench/.venv"
        if "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"; then
            cp "$requirements" "$venv/installed-requirements.txt"
        fi
    fi
    if "$venv/bin/vdirsyncer" --version >/dev/null 2>&1; then
        vdirsyncer=$venv/bin/vdirsyncer
    else
        echo "vdirsyncer could not be installed into bench/.venv: the peer comparison runs without it" >&2
    fi
    phase_done venv
fi

# ---------------------------------------------------------------- helpers

# The specs of a full send: Stores in this folder, one vdir Target at
# ./target with LINKS links (users u00000…, or one user `bench`), and the
# snapshot `send` covering every link.
write_specs() {
    local links=$1 target=${2:-target} layout=${3:-flat}
    mkdir -p snapshots.d
    {
        cat <<SPEC
apiVersion: snapsync/v1
kind: Stores
metadata: { name: stores }
spec:
  crm: { sqlite: ../crm.sqlite }
  state: { sqlite: ../state.sqlite }
---
apiVersion: snapsync/v1
kind: Snapshot
metadata: { name: send }
spec: { direction: send, target: bench }
---
apiVersion: snapsync/v1
kind: Target
metadata: { name: bench }
spec:
  type: vdir
  path: ../$target
  links:
SPEC
        if [[ $layout == peer ]]; then
            # Calendars and address books apart, as vdirsyncer's filesystem
            # storages want them: cal/{events,tasks}, card/contacts.
            echo "    - { name: bench, user: bench, scheduleItems: cal/events, tasks: cal/tasks, contacts: card/contacts }"
        elif ((links == 1)); then
            echo "    - { name: bench, user: bench, scheduleItems: bench/events, tasks: bench/tasks, contacts: bench/contacts }"
        else
            local i u
            for ((i = 0; i < links; i++)); do
                printf -v u 'u%05d' "$i"
                echo "    - { name: $u, user: $u, scheduleItems: $u/events, tasks: $u/tasks, contacts: $u/contacts }"
            done
        fi
    } >snapshots.d/bench.yaml
}

# Setup of an apply into an empty vdir: the last run's target folder is moved
# aside (kept: see the top), a new empty one made, the state store removed,
# and dirty pages flushed so that one run does not pay for another's writes.
moved=0
fresh_target() {
    if [[ -n $(ls -A target) ]]; then
        moved=$((moved + 1))
        mkdir -p old
        mv target "old/$moved"
        mkdir target
    fi
    rm -rf state.sqlite state.sqlite-wal state.sqlite-shm state.sqlite.locks
    sync
}

# Fails unless folder $1 holds $2 item files.
expect_files() {
    local found
    found=$(find "$1" -type f \( -name '*.ics' -o -name '*.vcf' \) ! -name '.*' | wc -l)
    if ((found != $2)); then
        echo "$1 holds $found items, not $2" >&2
        exit 1
    fi
}

# The steps common to the sizes and links phases, in the current folder
# (specs written, crm.sqlite filled, ./target empty). $1: key suffix.
sync_steps() {
    local k=$1
    measure --key "plan/$k" --budget "$budget" "plan: full send, empty vdir" ":" \
        "$bin" plan -s send
    runs=$(apply_runs_for "$items") measure --key "apply/$k" --budget "$budget" \
        "apply: full send, empty vdir" "fresh_target" "$bin" apply --yes -q -s send
    expect_files target "$items"
    measure --key "noop/$k" --budget "$budget" "apply again: nothing to do" "sync" \
        "$bin" apply --yes -q -s send
    measure --key "replan/$k" --budget "$budget" "plan: everything in place" ":" \
        "$bin" plan --detailed-exitcode -s send
}

# shellcheck source=bench/measure.sh
source "$repo/bench/measure.sh"

# ---------------------------------------------------------------- sizes
size_phase() {
    local n=$1
    items=$n runs=$(runs_for "$n")
    echo
    echo "== $n items, $runs runs (load average $(cut -d' ' -f1-3 /proc/loadavg))"
    mkdir -p "$data/size-$n/target"
    cd "$data/size-$n"
    write_specs 1
    local started=$SECONDS
    "$bin" generate --items "$n" --seed 1 --per-file 1000 --out gen >/dev/null
    echo "generated in $((SECONDS - started)) s"
    items=0 measure --key "validate/$n" --budget "$budget" "validate (1 link)" ":" \
        "$bin" validate -q
    measure --key "import/$n" --budget "$budget" "crm import (files of 1,000 items)" "rm -f crm.sqlite*" \
        "$bin" crm import -q --user bench --crm crm.sqlite gen
    sync_steps "$n"
    cd "$work"
}

# Sizes up to the links' total first; larger ones (1,000,000) come last,
# after every other phase, since they take the longest and the most room.
large_sizes=()
if wants sizes; then
    echo
    echo "== validate, 1,000 spec files (bench/validate.sh's: 100 targets of 10 links, 900 filtered snapshots)"
    bash "$repo/bench/validate.sh" 1000 --write "$data/specs-1000"
    items=0 runs=7 measure --key "validate/specs-1000" "validate, 1,000 spec files" ":" \
        "$bin" validate -q "$data/specs-1000"
    for n in "${size_list[@]}"; do
        if ((n > link_total)); then
            large_sizes+=("$n")
        else
            size_phase "$n"
        fi
    done
    phase_done sizes
fi

# ---------------------------------------------------------------- links
if wants links; then
    if ! wants sizes || [[ ,$sizes, != *,$link_total,* ]]; then
        size_phase "$link_total"
    fi
    for shape in "${link_shapes[@]}"; do
        per=$((link_total / shape))
        items=$link_total runs=$link_runs
        echo
        echo "== $shape links of $per items, $runs runs (load average $(cut -d' ' -f1-3 /proc/loadavg))"
        mkdir -p "$data/links-$shape/target"
        cd "$data/links-$shape"
        write_specs "$shape"
        # The same items as the sizes phase (seed 1), a file pair per user.
        "$bin" generate --items "$link_total" --seed 1 --per-file "$per" --out gen >/dev/null
        cat >import-all.sh <<'SCRIPT'
set -euo pipefail
bin=$1 shape=$2
for ((i = 0; i < shape; i++)); do
    printf -v f '%05d' "$i"
    "$bin" crm import -q --user "u$f" --crm crm.sqlite gen/*-"$f".*
done
SCRIPT
        runs=1 measure --key "import/links-$shape" "crm import, $shape users one by one" "rm -f crm.sqlite*" \
            bash import-all.sh "$bin" "$shape"
        items=0 measure --key "validate/links-$shape" --budget "$budget" "validate ($shape links)" ":" \
            "$bin" validate -q
        sync_steps "links-$shape"
        cd "$work"
    done
    phase_done links
fi

# ---------------------------------------------------------------- peer
# One timed run of COMMAND after SETUP; appends "PAIR TOOL SECONDS PEAK".
peer_run() {
    local pair=$1 tool=$2 setup=$3
    shift 3
    runs=1 measure "pair $pair: $tool" "$setup" "$@"
    printf '%s\t%s\t%s\t%s\n' "$pair" "$tool" "$measured_median" "$measured_peak" >>"$work/peer.tsv"
}

# vdirsyncer's config for a sync of src/ into $1/: one pair for the
# calendars (.ics) and one for the address books (.vcf), collections from
# discovery; then `discover`, not timed.
vdirsyncer_setup() {
    local dst=$1
    mkdir -p "$dst/cal" "$dst/card"
    {
        printf '[general]\nstatus_path = "%s/status-%s/"\n' "$PWD" "$dst"
        local kind ext
        for kind in cal card; do
            [[ $kind == cal ]] && ext=.ics || ext=.vcf
            cat <<PAIR

[pair $kind]
a = "${kind}_src"
b = "${kind}_dst"
collections = ["from a"]
implicit = "create"

[storage ${kind}_src]
type = "filesystem"
path = "$PWD/src/$kind/"
fileext = "$ext"

[storage ${kind}_dst]
type = "filesystem"
path = "$PWD/$dst/$kind/"
fileext = "$ext"
PAIR
        done
    } >"$dst.conf"
    "$vdirsyncer" -c "$dst.conf" discover >"$dst.discover" 2>&1 || {
        cat "$dst.discover" >&2
        exit 1
    }
    sync
}

snapsync_setup() {
    rm -rf state.sqlite state.sqlite-wal state.sqlite-shm state.sqlite.locks out
    mkdir out
    sync
}

if wants peer; then
    items=$peer_items
    echo
    echo "== peer comparison: $items items, $pairs pairs (load average $(cut -d' ' -f1-3 /proc/loadavg))"
    mkdir -p "$data/peer"
    cd "$data/peer"
    : >"$work/peer.tsv"
    write_specs 1 out peer
    "$bin" generate --items "$items" --seed 1 --per-file 1000 --out gen >/dev/null
    "$bin" crm import -q --user bench --crm crm.sqlite gen >/dev/null
    # The tree cp and vdirsyncer read: snapsync's own full send of the items.
    snapsync_setup
    "$bin" apply --yes -q -s send
    mv out src
    expect_files src "$items"
    tools=(cp snapsync)
    [[ -n $vdirsyncer ]] && tools+=(vdirsyncer)
    command -v eatmydata >/dev/null && tools+=(eatmydata)
    for ((pair = 1; pair <= pairs; pair++)); do
        for ((i = 0; i < ${#tools[@]}; i++)); do
            tool=${tools[$(((i + pair - 1) % ${#tools[@]}))]}
            case $tool in
            cp)
                peer_run "$pair" "cp -r" "sync" cp -r src "cp-$pair"
                expect_files "cp-$pair" "$items"
                ;;
            snapsync)
                peer_run "$pair" "snapsync" "snapsync_setup" "$bin" apply --yes -q -s send
                mv out "snapsync-$pair"
                expect_files "snapsync-$pair" "$items"
                ;;
            eatmydata)
                peer_run "$pair" "snapsync, fsync off" "snapsync_setup" eatmydata "$bin" apply --yes -q -s send
                mv out "eatmydata-$pair"
                expect_files "eatmydata-$pair" "$items"
                ;;
            vdirsyncer)
                peer_run "$pair" "vdirsyncer" "vdirsyncer_setup vdirsyncer-$pair" \
                    "$vdirsyncer" -c "vdirsyncer-$pair.conf" -v WARNING sync
                expect_files "vdirsyncer-$pair" "$items"
                ;;
            esac
        done
    done
    cd "$work"
    phase_done peer
fi

# ---------------------------------------------------------------- caldav
caldav_table=""
if wants caldav; then
    echo
    if [[ -f $repo/bench/caldav.sh ]]; then
        echo "== CalDAV: bash bench/caldav.sh $caldav_items $caldav_runs"
        if bash "$repo/bench/caldav.sh" "$caldav_items" "$caldav_runs" >"$work/caldav.txt"; then
            caldav_table=$(cat "$work/caldav.txt")
            echo "$caldav_table"
        else
            caldav_table="bench/caldav.sh failed (exit code $?); its output is above"
            echo "$caldav_table" >&2
        fi
    else
        caldav_table="bench/caldav.sh is missing: the CalDAV job against Radicale was not measured"
        echo "== CalDAV: $caldav_table"
    fi
    phase_done caldav
fi

# ---------------------------------------------------------------- large sizes
if ((${#large_sizes[@]})); then
    for n in "${large_sizes[@]}"; do
        size_phase "$n"
    done
    phase_done "sizes-${large_sizes[*]}"
fi

# ---------------------------------------------------------------- summary
echo
echo "== summary"
echo
echo "snapsync $commit, $(date -u +%Y-%m-%d) on $machine"
echo "data: $where"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
python3 - "$results" "$work/peer.tsv" "$link_total" "${size_list[*]}" "$(wants sizes && echo 1 || echo 0)" \
    "$(wants links && echo 1 || echo 0)" "${link_shapes[*]}" "$peer_items" "$quick" <<'PYTHON'
import statistics
import sys

results_path, peer_path, link_total, sizes, with_sizes, with_links, shapes, peer_items, quick = sys.argv[1:]
link_total = int(link_total)
sizes = [int(s) for s in sizes.split()] if with_sizes == "1" else []
shapes = [int(s) for s in shapes.split()] if with_links == "1" else []
rows = {}
with open(results_path) as f:
    for line in f:
        key, name, items, runs, median, lo, hi, peak = line.rstrip("\n").split("\t")
        rows[key] = dict(name=name, items=int(items), runs=int(runs), median=float(median),
                         min=float(lo), max=float(hi), peak=int(peak))

def secs(t):
    if t < 10:
        return f"{t:.3f} s"
    if t < 100:
        return f"{t:.2f} s"
    return f"{t:.1f} s"

table = [("benchmark", "items", "runs", "median", "min", "max", "peak RSS")]
def section(title):
    table.append((f"**{title}**", "", "", "", "", "", ""))
def row(label, key):
    r = rows.get(key)
    if r is None:
        return
    table.append((label, f"{r['items']:,}" if r["items"] else "spec", str(r["runs"]),
                  secs(r["median"]), secs(r["min"]), secs(r["max"]), f"{r['peak'] // 1024} MiB"))

steps = [("validate", "validate"), ("import", "crm import"), ("plan", "plan, full send into an empty vdir"),
         ("apply", "apply, full send into an empty vdir"), ("noop", "apply again, nothing to do"),
         ("replan", "plan, everything in place")]
if "validate/specs-1000" in rows:
    section("validate, 1,000 spec files (100 targets of 10 links, 900 filtered snapshots)")
    row("validate", "validate/specs-1000")
for n in sizes:
    section(f"{n:,} items, one link")
    for step, label in steps:
        row(label, f"{step}/{n}")
if shapes:
    for shape in [1] + shapes:
        per = link_total // shape
        if shape == 1:
            section(f"1 link of {link_total:,} items: the rows of {link_total:,} items above" if link_total in sizes
                    else f"1 link of {link_total:,} items")
            if link_total in sizes:
                continue
        else:
            section(f"{shape:,} links of {per:,} items")
        key = str(link_total) if shape == 1 else f"links-{shape}"
        for step, label in steps:
            if step == "import" and shape > 1:
                label = "crm import, one user after the other"
            row(label, f"{step}/{key}")

peer = {}
try:
    with open(peer_path) as f:
        for line in f:
            pair, tool, t, peak = line.rstrip("\n").split("\t")
            peer.setdefault(tool, {})[int(pair)] = (float(t), int(peak))
except FileNotFoundError:
    pass
if peer:
    section(f"peer comparison, {int(peer_items):,} items into an empty vdir")
for tool, label in (("cp -r", "cp -r of the vdir tree (the floor)"),
                    ("snapsync", "snapsync: full send (apply)"),
                    ("vdirsyncer", "vdirsyncer: sync of the tree"),
                    ("snapsync, fsync off", "snapsync: full send, fsync off (eatmydata)")):
    runs = peer.get(tool)
    if not runs:
        continue
    times = [t for t, _ in runs.values()]
    table.append((label, f"{int(peer_items):,}", str(len(times)), secs(statistics.median(times)), secs(min(times)),
                  secs(max(times)), f"{max(p for _, p in runs.values()) // 1024} MiB"))

widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
def line(cells):
    return "| " + " | ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))) + " |"
print(line(table[0]))
print("|" + "|".join("-" * (w + 1) + ("-" if i == 0 else ":") for i, w in enumerate(widths)) + "|")
for r in table[1:]:
    print(line(r))

ratios = {}
if peer:
    print()
    print("peer comparison, pair by pair (each pair measured back to back, the order rotating):")
    for tool in ("vdirsyncer", "cp -r", "snapsync, fsync off"):
        if tool not in peer or "snapsync" not in peer:
            continue
        per_pair = [peer["snapsync"][p][0] / peer[tool][p][0] for p in sorted(peer["snapsync"]) if p in peer[tool]]
        ratios[tool] = statistics.median(per_pair)
        print(f"  snapsync / {tool:<20} " + "  ".join(f"{x:6.2f}" for x in per_pair)
              + f"   median {ratios[tool]:.2f}")

if shapes:
    print()
    print(f"links: {max(shapes):,} links / 1 link, the same {link_total:,} items:")
    for step, label in steps[2:]:
        a, b = rows.get(f"{step}/links-{max(shapes)}"), rows.get(f"{step}/{link_total}")
        if a and b:
            print(f"  {label:<38} {a['median'] / b['median']:.2f}")

# The goals of issue 7.
print()
print("goals:" + (" (--quick: checked at the quick sizes, not the issue's)" if quick == "1" else ""))
def verdict(ok):
    return "PASS" if ok else "MISS"
def under(label, key, limit):
    r = rows.get(key)
    if r is None:
        print(f"  {label:<70} not measured")
        return
    v = r["median"]
    print(f"  {label:<70} {secs(v):>9}  {verdict(v < limit)}  ({v / limit:.2f}× the limit of {secs(limit)})")
def ratio_at_most(label, value, limit, what):
    if value is None:
        print(f"  {label:<70} not measured")
        return
    print(f"  {label:<70} {value:8.2f}×  {verdict(value <= limit)}  ({what})")

vd = ratios.get("vdirsyncer")
if vd is not None:
    speedup = 1 / vd
    print(f"  {'full send into a vdir at least 10x faster than vdirsyncer':<70} {speedup:8.2f}×  "
          f"{verdict(speedup >= 10)}  (snapsync / vdirsyncer = {vd:.2f}; the goal is 0.10)")
    # Whether the goal is within reach at all: a tenth of vdirsyncer's time
    # against the floor, cp -r of the same files.
    if "vdirsyncer" in peer and "cp -r" in peer:
        tenth = statistics.median(t for t, _ in peer["vdirsyncer"].values()) / 10
        floor = statistics.median(t for t, _ in peer["cp -r"].values())
        if tenth < floor:
            print(f"  {'':<70} {'':>9}        (a tenth of vdirsyncer's time, {secs(tenth)}, is under "
                  f"cp -r's {secs(floor)}: out of reach on this machine)")
else:
    print(f"  {'full send into a vdir at least 10x faster than vdirsyncer':<70} not measured")
ratio_at_most("full send into a vdir within 3x of cp -r", ratios.get("cp -r"), 3,
              "snapsync / cp -r; the goal is 3")
under("plan of 100,000 items under 2 s (empty vdir)", "plan/100000", 2)
under("plan of 100,000 items under 2 s (everything in place)", "replan/100000", 2)
under("apply of 100,000 items under 10 s", "apply/100000", 10)
under("no-op re-apply of 100,000 items under 2 s", "noop/100000", 2)
big, small = 1000000, 100000
# Memory: the largest peak of the plans (into an empty vdir, everything in
# place) and of the applies (a full send, a re-apply with nothing to do).
for step, also in (("plan", "replan"), ("apply", "noop")):
    r = rows.get(f"{step}/{big}")
    label = f"{step} of 1,000,000 items: peak memory under 1 GB"
    peaks = [rows[k]["peak"] for k in (f"{step}/{big}", f"{also}/{big}") if k in rows]
    if not peaks:
        print(f"  {label:<70} not measured")
    else:
        mb = max(peaks) * 1024 / 1e6
        print(f"  {label:<70} {mb:6.0f} MB  {verdict(mb < 1000)}  ({mb / 1000:.2f}× the limit of 1,000 MB; "
              f"the larger of {step} and {dict(replan='plan again', noop='re-apply')[also]})")
    s = rows.get(f"{step}/{small}")
    ratio_at_most(f"{step} of 1,000,000 items within 12x of 100,000",
                  r["median"] / s["median"] if r and s else None, 12, "1,000,000 / 100,000; the goal is 12")
most = max(shapes) if shapes else 1000
a, b = rows.get(f"apply/links-{most}"), rows.get(f"apply/{link_total}")
ratio_at_most(f"{most:,} links of {link_total // most:,} items within 1.5x of 1 link of {link_total:,} (apply)",
              a["median"] / b["median"] if a and b else None, 1.5, f"{most:,} links / 1 link; the goal is 1.5")
PYTHON

if [[ -n $caldav_table ]]; then
    echo
    echo "CalDAV job against Radicale (bench/caldav.sh $caldav_items $caldav_runs):"
    echo "$caldav_table"
fi
echo
echo "time per phase: ${phases[*]/%/;} total $(($(date +%s) - suite_start)) s before removing the work folder"
