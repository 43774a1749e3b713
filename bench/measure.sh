# Sourced by the benchmark scripts: `measure NAME SETUP COMMAND...` runs
# SETUP (shell code) then COMMAND, $runs times, and prints the median, min
# and max wall time, items/s at the median (for $items items) and the
# largest peak memory (RSS).
measure() {
    local name=$1 setup=$2
    shift 2
    local times=() peak=0 t m
    for ((r = 0; r < runs; r++)); do
        eval "$setup"
        /usr/bin/time -f '%e %M' -o time.txt "$@" >/dev/null
        read -r t m <time.txt
        times+=("$t")
        ((m > peak)) && peak=$m
    done
    local sorted median min max rate
    sorted=$(printf '%s\n' "${times[@]}" | sort -n)
    median=$(echo "$sorted" | sed -n "$(((runs + 1) / 2))p")
    min=$(echo "$sorted" | head -1)
    max=$(echo "$sorted" | tail -1)
    rate=$(awk -v n="$items" -v t="$median" 'BEGIN { printf "%d", (t > 0 ? n / t : 0) }')
    printf '%-34s median %6.2f s (min %.2f, max %.2f)  %7d items/s  peak %4d MiB\n' \
        "$name" "$median" "$min" "$max" "$rate" "$((peak / 1024))"
}
