#!/usr/bin/env bash
# Runs every test suite (cmocka unit programs, bats CLI files) with TAP output and prints one
# closing line "N passed, M failed[, K skipped]" that counts every executed test case.
# A suite that crashes or exits non-zero without reporting a failure counts as one failure.
# Environment: PUNCHCAT (binary under test), BUILD (build directory), TESTS (optional filter:
# a substring of the suite file names to run).
set -u
cd "$(dirname "$0")/.." || exit 1
: "${PUNCHCAT:=$PWD/punchcat}" "${BUILD:=$PWD/build}"
export PUNCHCAT BUILD
export CMOCKA_MESSAGE_OUTPUT=TAP
SUITE_TIMEOUT=${SUITE_TIMEOUT:-900}

passed=0 failed=0 skipped=0
log=$(mktemp) || exit 1
trap 'rm -f "$log"' EXIT

# count_tap FILE: adds the file's TAP results to the totals; prints the failing lines.
count_tap() {
	local p f s
	p=$(grep -Ec '^ok [0-9]+' "$1")
	s=$(grep -Eic '^(not )?ok [0-9]+.*# skip' "$1")
	f=$(grep -Ec '^not ok [0-9]+' "$1")
	p=$((p - $(grep -Eic '^ok [0-9]+.*# skip' "$1")))
	f=$((f - $(grep -Eic '^not ok [0-9]+.*# skip' "$1")))
	passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
	SUITE_P=$p SUITE_F=$f SUITE_S=$s
}

run_suite() { # NAME CMD...
	local name=$1 rc
	shift
	case $name in *"${TESTS:-}"*) ;; *) return 0 ;; esac
	timeout --kill-after=10 "$SUITE_TIMEOUT" "$@" >"$log" 2>&1
	rc=$?
	count_tap "$log"
	if [ "$rc" -ne 0 ] && [ "$SUITE_F" -eq 0 ]; then
		failed=$((failed + 1)) SUITE_F=1
		echo "not ok - $name exited with status $rc without reporting a failure" >>"$log"
	fi
	if [ $((SUITE_P + SUITE_F + SUITE_S)) -eq 0 ]; then
		failed=$((failed + 1)) SUITE_F=1
		echo "not ok - $name ran no test" >>"$log"
	fi
	printf '%-28s %4d passed, %d failed, %d skipped\n' "$name" "$SUITE_P" "$SUITE_F" "$SUITE_S"
	if [ "$SUITE_F" -gt 0 ] || [ -n "${VERBOSE:-}" ]; then
		sed 's/^/    /' "$log" | grep -v '^    ok ' | head -200
	fi
	grep -Ei '^(not )?ok [0-9]+.*# skip' "$log" | sed 's/^/    /' | sort -u | head -20
}

for t in "$BUILD"/tests/unit/test_*; do
	[ -x "$t" ] || continue
	run_suite "unit/$(basename "$t")" "$t"
done
if command -v bats >/dev/null; then
	for b in tests/*.bats; do
		[ -f "$b" ] || continue
		run_suite "bats/$(basename "$b" .bats)" bats --tap "$b"
	done
else
	echo "bats is not installed: the CLI suites were not run (scripts/deps.sh installs it)"
	failed=$((failed + 1))
fi

if [ "$skipped" -gt 0 ]; then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
