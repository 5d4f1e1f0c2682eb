#!/usr/bin/env bash
# Runs every libFuzzer target in BUILD_DIR/tests/fuzz for FUZZ_SECONDS each, on a scratch copy of
# its seed corpus (tests/fuzz/corpus/NAME, where NAME is the target without "fuzz_").
# Exits non-zero if any target finds a crash; the reproducer is left in the scratch directory.
set -u
cd "$(dirname "$0")/../.." || exit 1
build=${1:-build/fuzz}
secs=${FUZZ_SECONDS:-10}
work=$(mktemp -d)
status=0
for t in "$build"/tests/fuzz/fuzz_*; do
	[ -x "$t" ] || continue
	name=$(basename "$t")
	corpus=$work/${name#fuzz_}
	mkdir -p "$corpus"
	cp -r tests/fuzz/corpus/"${name#fuzz_}"/. "$corpus"/ 2>/dev/null || true
	echo "fuzz: $name for ${secs}s"
	if ! "$t" -max_total_time="$secs" -timeout=10 -print_final_stats=1 \
		-artifact_prefix="$work/$name-" "$corpus" >"$work/$name.log" 2>&1; then
		echo "fuzz: $name FAILED; log and reproducer in $work" >&2
		tail -40 "$work/$name.log" >&2
		# the reproducer in the log too (CI keeps no files): base64 -d > f; $t f
		for a in "$work/$name"-*; do
			[ -f "$a" ] && echo "fuzz: reproducer $(basename "$a"): $(base64 -w0 "$a")" >&2
		done
		status=1
		continue
	fi
	grep -E 'stat::number_of_executed_units|cov:' "$work/$name.log" | tail -2 | sed 's/^/    /'
done
[ "$status" -eq 0 ] && rm -rf "$work"
exit "$status"
