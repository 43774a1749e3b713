# shellcheck shell=bash disable=SC2034,SC2154
# Sourced by the benchmark scripts.
#
#   measure [--key KEY] [--budget SECONDS] NAME SETUP COMMAND...
#
# runs SETUP (shell code, not timed) then COMMAND, $runs times, and prints
# the median, min and max wall time, items/s at the median (for $items
# items) and the largest peak memory (RSS) over the runs. COMMAND's stdout
# is thrown away; its stderr is shown only when it fails, and then the
# calling script stops (exit 1).
#
# --budget: stop adding runs once this many seconds went into the timed
# runs (at least one run is made); the runs actually made are printed.
# --key: when $results names a file, one tab-separated line is appended to
# it: KEY NAME ITEMS RUNS MEDIAN MIN MAX PEAK_KIB (times in seconds).
#
# After the call, $measured_median, $measured_min, $measured_max,
# $measured_runs and $measured_peak (KiB) hold the figures.
#
# Wall time is taken with nanosecond clock reads around /usr/bin/time
# (which adds about a millisecond); the peak RSS is /usr/bin/time's %M.
measure() {
    local key="" budget=0
    while [[ $1 == --* ]]; do
        case $1 in
        --key) key=$2 ;;
        --budget) budget=$2 ;;
        *)
            echo "measure: unknown option $1" >&2
            return 1
            ;;
        esac
        shift 2
    done
    local name=$1 setup=$2
    shift 2
    local times=() peak=0 spent=0 start end t m r status
    local err=${TMPDIR:-/tmp}/measure.$$.err rss=${TMPDIR:-/tmp}/measure.$$.rss
    for ((r = 0; r < runs; r++)); do
        eval "$setup"
        start=$(date +%s%N)
        status=0
        /usr/bin/time -f '%M' -o "$rss" "$@" >/dev/null 2>"$err" || status=$?
        end=$(date +%s%N)
        if ((status != 0)); then
            echo "$name: failed (exit code $status): $*" >&2
            tail -n 30 "$err" >&2
            rm -f "$err" "$rss"
            exit 1
        fi
        m=$(tail -n 1 "$rss")
        t=$(awk -v ns=$((end - start)) 'BEGIN { printf "%.4f", ns / 1e9 }')
        times+=("$t")
        ((m > peak)) && peak=$m
        spent=$(awk -v a="$spent" -v b="$t" 'BEGIN { print a + b }')
        # One more run only if it fits in the budget, judged by the runs so far.
        if awk -v b="$budget" -v s="$spent" -v n=$((r + 1)) 'BEGIN { exit !(b > 0 && s + s / n > b) }'; then
            break
        fi
    done
    rm -f "$err" "$rss"
    local done_runs=${#times[@]} median min max rate
    read -r median min max < <(printf '%s\n' "${times[@]}" | sort -g | awk '
        { t[NR] = $1 }
        END {
            m = (NR % 2) ? t[(NR + 1) / 2] : (t[NR / 2] + t[NR / 2 + 1]) / 2
            printf "%.4f %.4f %.4f\n", m, t[1], t[NR]
        }')
    rate=$(awk -v n="${items:-0}" -v t="$median" 'BEGIN { printf "%d", (t > 0 ? n / t : 0) }')
    if ((${items:-0} > 0)); then rate="$rate items/s"; else rate=""; fi
    printf '%-40s median %8.3f s (min %.3f, max %.3f; %d of %d runs) %16s  peak %5d MiB\n' \
        "$name" "$median" "$min" "$max" "$done_runs" "$runs" "$rate" "$((peak / 1024))"
    measured_median=$median measured_min=$min measured_max=$max
    measured_runs=$done_runs measured_peak=$peak
    if [[ -n $key && -n ${results:-} ]]; then
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$key" "$name" "${items:-0}" "$done_runs" \
            "$median" "$min" "$max" "$peak" >>"$results"
    fi
}
