#!/usr/bin/env bash
# Long fuzzing by CPU time, not wall time: runs each named target (default: all) until it has used
# FUZZ_CPU_SECONDS of CPU (user+sys, read from /proc), two targets at a time, niced, so a shared
# machine still gives every target the same amount of work. Corpora grow in FUZZ_WORK/NAME
# (seeded from tests/fuzz/corpus/NAME); logs, final stats and any reproducer stay there.
#   tests/fuzz/long.sh [BUILD_DIR] [TARGET...]      e.g. FUZZ_CPU_SECONDS=1800 tests/fuzz/long.sh
# Prints one line per target: CPU seconds, executions, coverage, features, corpus size, result.
set -u
cd "$(dirname "$0")/../.." || exit 1
build=${1:-build/fuzz}
shift $(($# > 0 ? 1 : 0))
cpu_limit=${FUZZ_CPU_SECONDS:-1800}
jobs=${FUZZ_JOBS:-2}
work=${FUZZ_WORK:-$(mktemp -d)}
tck=$(getconf CLK_TCK)
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
	for t in "$build"/tests/fuzz/fuzz_*; do
		[ -x "$t" ] && targets+=("$(basename "$t")")
	done
fi

cpu_of() {	# user+sys seconds of a pid, or empty when it is gone
	local f
	f=$(cut -d' ' -f14,15 "/proc/$1/stat" 2>/dev/null) || return 0
	[ -n "$f" ] && echo $(( (${f% *} + ${f#* }) / tck ))
}

run_one() {
	local name=$1 bin=$build/tests/fuzz/$1 corpus=$work/${1#fuzz_} log=$work/$1.log pid cpu=0
	mkdir -p "$corpus"
	cp -rn tests/fuzz/corpus/"${name#fuzz_}"/. "$corpus"/ 2>/dev/null || true
	# wall cap: 4x the CPU budget, so a starved run still ends
	nice -n 10 "$bin" -max_total_time=$((cpu_limit * 4)) -timeout=10 -print_final_stats=1 \
		-artifact_prefix="$work/$name-" "$corpus" >"$log" 2>&1 &
	pid=$!
	while kill -0 "$pid" 2>/dev/null; do
		cpu=$(cpu_of "$pid")
		if [ -n "$cpu" ] && [ "$cpu" -ge "$cpu_limit" ]; then
			kill -INT "$pid"
			break
		fi
		sleep 5
	done
	wait "$pid"
	local rc=$? execs cov ft
	execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*')
	ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*')
	local res=ok
	ls "$work/$name"-* >/dev/null 2>&1 && res="CRASH (reproducer in $work)"
	[ "$rc" -ne 0 ] && [ "$rc" -ne 72 ] && [ "$res" = ok ] && res="exit $rc"
	printf '%-16s cpu %5ss  execs %10s  cov %5s  ft %6s  corpus %5s  %s\n' "$name" "$cpu" \
		"${execs:-?}" "${cov:-?}" "${ft:-?}" "$(ls "$corpus" | wc -l)" "$res"
}

echo "fuzz-long: ${#targets[@]} targets, ${cpu_limit} CPU-s each, $jobs at a time, work in $work"
for name in "${targets[@]}"; do
	while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n; done
	run_one "$name" &
done
wait
