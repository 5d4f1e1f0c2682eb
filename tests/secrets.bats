#!/usr/bin/env bats
# Secrets hygiene, end to end on loopback with a real `punchcat serve` and two real peers:
#  - a packet capture (tcpdump on lo, only this test's ports) of a direct and of a relayed
#    transfer holds neither a known plaintext marker nor the code;
#  - the code never appears in the peers' or the server's stderr at -vv (except the one line
#    that hands a generated code to the user);
#  - a running peer's argv and environment no longer hold the code;
#  - the peer cannot be dumped: PR_SET_DUMPABLE 0 and a core size limit of 0.
# Needs root (tcpdump, reading another user's /proc) and Linux; skips with the reason otherwise.

load helpers

setup() {
	[ "$(id -u)" -eq 0 ] || skip "needs root (packet capture, /proc of other users)"
	[ -d /proc/self ] || skip "needs Linux /proc"
	TMP=$(mktemp -d)
	PIDS=()
	"$PUNCHCAT" serve -l 127.0.0.1:0 --allow-root --ip-rate 6000 --ip-burst 100 -vv \
		>"$TMP/serve.log" 2>&1 &
	SERVE_PID=$!
	wait_for 5 grep -q 'listening on' "$TMP/serve.log" || {
		cat "$TMP/serve.log" >&2
		return 1
	}
	SPORT=$(sed -n 's/.*listening on [^ ]*:\([0-9][0-9]*\).*/\1/p' "$TMP/serve.log" | head -1)
	export PUNCHCAT_SERVER=127.0.0.1:$SPORT
	export PUNCHCAT_TEST_IDLE_MS=5000
	# A password no log line, capture or argv could contain by chance.
	PASSWORD="zebra-$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')-quartz"
	CODE="$((7000 + RANDOM % 2000))-$PASSWORD"
	MARKER="PLAINTEXT-MARKER-$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')"
}

teardown() {
	local p f
	[ -n "${TMP:-}" ] || return 0
	for f in "$TMP"/*.pid; do [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null; done
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	[ -n "${TCPDUMP_PID:-}" ] && kill "$TCPDUMP_PID" 2>/dev/null
	kill "$SERVE_PID" 2>/dev/null || true
	wait 2>/dev/null || true
	if [ -z "${BATS_TEST_COMPLETED:-}" ]; then
		for f in "$TMP"/*.err "$TMP"/serve.log "$TMP"/tcpdump.log; do
			[ -f "$f" ] && { echo "== $f"; tail -20 "$f"; } >&2
		done
	fi
	rm -rf "$TMP"
}

# free_port: an unused UDP port on loopback.
free_port() {
	local p
	for _ in $(seq 50); do
		p=$((30000 + RANDOM % 30000))
		ss -Hlun "sport = :$p" 2>/dev/null | grep -q . || { echo "$p"; return 0; }
	done
	return 1
}

# peer NAME INPUT [ARGS...]: a peer in the background (see tests/peer.bats).
peer() {
	local name=$1 input=$2
	shift 2
	(
		exec 7>&-
		"$PUNCHCAT" "$@" <"$input" >"$TMP/$name.out" 2>"$TMP/$name.err" &
		echo $! >"$TMP/$name.pid"
		rc=0
		wait $! || rc=$?
		echo $rc >"$TMP/$name.rc"
	) &
	PIDS+=($!)
}

pid() { wait_for 5 test -s "$TMP/$1.pid" && cat "$TMP/$1.pid"; }
reap() {
	local n
	for n in "$@"; do
		wait_for 45 test -s "$TMP/$n.rc" || { echo "$n did not finish" >&2; return 1; }
	done
}
rc() { cat "$TMP/$1.rc"; }

# capture_start PORT...: tcpdump on lo, full packets, only UDP on these ports.
capture_start() {
	command -v tcpdump >/dev/null || skip "tcpdump is not installed (scripts/deps.sh installs it)"
	local filter="" p
	for p in "$@"; do filter="${filter:+$filter or }udp port $p"; done
	tcpdump -i lo -s 0 -U -n -w "$TMP/cap.pcap" "$filter" >"$TMP/tcpdump.log" 2>&1 &
	TCPDUMP_PID=$!
	wait_for 5 grep -q 'listening on' "$TMP/tcpdump.log" || {
		cat "$TMP/tcpdump.log" >&2
		skip "tcpdump cannot capture on lo here"
	}
}

capture_stop() {
	kill -INT "$TCPDUMP_PID"
	wait "$TCPDUMP_PID" 2>/dev/null || true
	TCPDUMP_PID=
}

# make_input BYTES: random data with the marker every 4 KiB (any plaintext packet would hold one).
make_input() {
	local i blocks=()
	for i in $(seq 0 15); do
		{ printf '%s' "$MARKER"; head -c $((4096 - ${#MARKER})) /dev/urandom; } >"$TMP/blk$i"
	done
	for i in $(seq 0 $(($1 / 4096 - 1))); do blocks+=("$TMP/blk$((i % 16))"); done
	cat "${blocks[@]}" >"$TMP/a.in"
}

# transfer_captured [PEER OPTIONS...]: a 1 MiB transfer a -> b (marker inside) and 64 KiB
# b -> a under capture; checks the data, then that the capture holds no marker and no code.
transfer_captured() {
	local pa pb
	pa=$(free_port) && pb=$(free_port)
	make_input 1048576
	head -c 65536 /dev/urandom >"$TMP/b.in"
	capture_start "$SPORT" $((SPORT + 1)) "$pa" "$pb"
	peer a "$TMP/a.in" -v -p "$pa" "$@" "$CODE"
	peer b "$TMP/b.in" -v -p "$pb" "$@" "$CODE"
	reap a b
	capture_stop
	[ "$(rc a)" -eq 0 ] && [ "$(rc b)" -eq 0 ]
	cmp "$TMP/a.in" "$TMP/b.out"
	cmp "$TMP/b.in" "$TMP/a.out"
	grep -q -F "$MARKER" "$TMP/a.in"
	# the capture did see the transfer (else the checks below prove nothing)
	[ "$(stat -c %s "$TMP/cap.pcap")" -gt 1048576 ]
	run grep -c -a -F "$MARKER" "$TMP/cap.pcap"
	[ "$output" = 0 ]
	for s in "$PASSWORD" "${PASSWORD%%-*}" "${PASSWORD##*-}" "$CODE"; do
		run grep -c -a -F "$s" "$TMP/cap.pcap"
		[ "$output" = 0 ] || { echo "found '$s' in the capture" >&2; return 1; }
	done
}

@test "capture of a direct transfer: no plaintext, no code" {
	transfer_captured
	grep -q '^punchcat: path: direct' "$TMP/a.err"
}

@test "capture of a relayed transfer (--force-relay): no plaintext, no code" {
	transfer_captured --force-relay
	grep -q '^punchcat: path: relay' "$TMP/a.err"
	run grep -c '^punchcat: path: direct' "$TMP/a.err" "$TMP/b.err"
	[[ "$output" != *:[1-9]* ]]
}

@test "the code never appears in stderr at -vv (peers and server)" {
	head -c 200000 /dev/urandom >"$TMP/a.in"
	peer a "$TMP/a.in" -vv "$CODE"
	peer b /dev/null -vv "$CODE"
	reap a b
	[ "$(rc a)" -eq 0 ] && [ "$(rc b)" -eq 0 ]
	# the logs said something (a silent -vv would prove nothing)
	[ "$(wc -l <"$TMP/a.err")" -ge 3 ] && [ "$(wc -l <"$TMP/serve.log")" -ge 2 ]
	for f in "$TMP/a.err" "$TMP/b.err" "$TMP/serve.log"; do
		for s in "$PASSWORD" "${PASSWORD%%-*}" "${PASSWORD##*-}"; do
			run grep -c -F "$s" "$f"
			[ "$output" = 0 ] || { echo "'$s' in $f" >&2; return 1; }
		done
	done
}

@test "a generated code is printed once, on its own line, and nowhere else" {
	head -c 1000 /dev/urandom >"$TMP/a.in"
	peer a "$TMP/a.in" -vv
	wait_for 10 grep -q '^punchcat: code: ' "$TMP/a.err"
	code=$(sed -n 's/^punchcat: code: //p' "$TMP/a.err")
	password=${code#*-}
	[ -n "$password" ]
	peer b /dev/null -vv "$code"
	reap a b
	[ "$(rc a)" -eq 0 ] && [ "$(rc b)" -eq 0 ]
	# once as the code line, once in the hint "on the other machine run: punchcat CODE"
	[ "$(grep -c -F "$password" "$TMP/a.err")" -eq 2 ]
	grep -q -F "on the other machine run: punchcat $code" "$TMP/a.err"
	run grep -c -F "$password" "$TMP/b.err" "$TMP/serve.log"
	[[ "$output" != *:[1-9]* ]]
}

@test "a running peer's argv and environment do not hold the code" {
	peer a /dev/null -vv "$CODE"
	wait_for 10 grep -q 'in room' "$TMP/a.err"
	p=$(pid a)
	tr '\0' ' ' <"/proc/$p/cmdline" >"$TMP/a.cmdline"
	grep -q -- '-vv' "$TMP/a.cmdline"	# read the right process
	run grep -c -F "${PASSWORD%%-*}" "$TMP/a.cmdline"
	[ "$output" = 0 ]
	kill "$p"
	# from the environment: wiped in place, so /proc/PID/environ no longer shows it
	PUNCHCAT_CODE="$CODE" peer e /dev/null -vv
	wait_for 10 grep -q 'in room' "$TMP/e.err"
	p=$(pid e)
	tr '\0' '\n' <"/proc/$p/environ" >"$TMP/e.environ"
	grep -q '^PUNCHCAT_SERVER=' "$TMP/e.environ"	# read the right process
	run grep -c -F "${PASSWORD%%-*}" "$TMP/e.environ"
	[ "$output" = 0 ]
}

@test "the peer cannot be dumped: not dumpable, core size limit 0" {
	command -v setpriv >/dev/null || skip "setpriv (util-linux) is not installed"
	# As another user, so that /proc shows the dumpable flag: the /proc files of a process
	# that is not dumpable belong to root instead of the process's user.
	chmod 755 "$TMP"
	setpriv --reuid=65534 --regid=65534 --clear-groups "$PUNCHCAT" -vv "$CODE" \
		</dev/null >/dev/null 2>"$TMP/n.err" &
	echo $! >"$TMP/n.pid"
	wait_for 10 grep -q 'in room' "$TMP/n.err"
	p=$(cat "$TMP/n.pid")
	[ "$(awk '/^Uid:/ {print $2}' "/proc/$p/status")" -eq 65534 ]
	[ "$(stat -c %u "/proc/$p/status")" -eq 0 ]
	grep -E '^Max core file size +0 +0 ' "/proc/$p/limits"
	# control: the same user's ordinary process shows its own uid
	setpriv --reuid=65534 --regid=65534 --clear-groups sleep 5 &
	p=$!
	echo $p >"$TMP/s.pid"
	wait_for 5 uid_is "$p" 65534
	[ "$(stat -c %u "/proc/$p/status")" -eq 65534 ]
}

uid_is() { [ "$(awk '/^Uid:/ {print $2}' "/proc/$1/status" 2>/dev/null)" = "$2" ]; }
