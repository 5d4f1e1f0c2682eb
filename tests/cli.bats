#!/usr/bin/env bats
# Command-line contract: help, version, usage errors (exit 2, one line plus a hint on stderr).

load helpers

@test "--help prints usage on stdout and exits 0" {
	run --separate-stderr "$PUNCHCAT" --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"usage: punchcat [OPTIONS] [CODE]"* ]]
	[ -z "$stderr" ]
}

@test "--version prints the version and exits 0" {
	run "$PUNCHCAT" --version
	[ "$status" -eq 0 ]
	[[ "$output" =~ ^punchcat\ [0-9]+\.[0-9]+\.[0-9]+$ ]]
}

@test "serve --help exits 0" {
	run --separate-stderr "$PUNCHCAT" serve --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"usage: punchcat serve"* ]]
}

@test "unknown option: one error line, a hint, exit 2" {
	run --separate-stderr "$PUNCHCAT" --bogus
	[ "$status" -eq 2 ]
	[ -z "$output" ]
	[ "${stderr_lines[0]}" = "punchcat: unknown option '--bogus'" ]
	[ "${stderr_lines[1]}" = "punchcat: try 'punchcat --help'" ]
}

@test "serve: unknown option exits 2" {
	run --separate-stderr "$PUNCHCAT" serve -Z
	[ "$status" -eq 2 ]
	[ "${stderr_lines[0]}" = "punchcat: unknown option '-Z'" ]
}

@test "missing option value exits 2" {
	run --separate-stderr "$PUNCHCAT" --wait
	[ "$status" -eq 2 ]
	[[ "${stderr_lines[0]}" == *"'--wait' needs a value"* ]]
}

@test "malformed numbers exit 2" {
	for a in "--wait 0" "--wait x" "--port 70000" "--port -1" "--words 2" "--words 99"; do
		run --separate-stderr "$PUNCHCAT" -s 127.0.0.1 $a
		[ "$status" -eq 2 ] || { echo "accepted: $a"; return 1; }
	done
}

@test "conflicting options exit 2" {
	run --separate-stderr "$PUNCHCAT" -s 127.0.0.1 --no-relay --force-relay
	[ "$status" -eq 2 ]
	run --separate-stderr "$PUNCHCAT" -s 127.0.0.1 -4 -6
	[ "$status" -eq 2 ]
}

@test "two codes exit 2" {
	run --separate-stderr "$PUNCHCAT" -s 127.0.0.1 7-a-b 8-c-d
	[ "$status" -eq 2 ]
}

@test "no server configured: says how to set one, exit 2" {
	run --separate-stderr env -u PUNCHCAT_SERVER "$PUNCHCAT" 7-orbit-canvas-tulip
	[ "$status" -eq 2 ]
	[[ "$stderr" == *"PUNCHCAT_SERVER"* ]]
}

@test "empty or missing code file exits 2" {
	run --separate-stderr "$PUNCHCAT" -s 127.0.0.1 --code-file /nonexistent/code
	[ "$status" -eq 2 ]
	: >"$BATS_TEST_TMPDIR/empty"
	run --separate-stderr "$PUNCHCAT" -s 127.0.0.1 --code-file "$BATS_TEST_TMPDIR/empty"
	[ "$status" -eq 2 ]
}

@test "malformed code exits 2 with the reason" {
	run --separate-stderr "$PUNCHCAT" -s 127.0.0.1 orbit-canvas
	[ "$status" -eq 2 ]
	[[ "$stderr" == *"punchcat: malformed code: the code must start with the nameplate"* ]]
	PUNCHCAT_CODE="7" run --separate-stderr "$PUNCHCAT" -s 127.0.0.1
	[ "$status" -eq 2 ]
	[[ "$stderr" == *"malformed code: the code has no password"* ]]
}
