# Shared helpers for the bats suites.
bats_require_minimum_version 1.5.0
: "${PUNCHCAT:=$BATS_TEST_DIRNAME/../punchcat}"
: "${BUILD:=$BATS_TEST_DIRNAME/../build}"
export PUNCHCAT BUILD

# wait_for SECONDS CMD...: polls CMD every 50 ms until it succeeds or SECONDS pass.
wait_for() {
	local deadline=$((SECONDS + $1))
	shift
	until "$@"; do
		[ "$SECONDS" -lt "$deadline" ] || return 1
		sleep 0.05
	done
}
