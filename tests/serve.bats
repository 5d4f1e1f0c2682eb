#!/usr/bin/env bats
# `punchcat serve` on loopback: rendezvous, relay, hostile input, limits, signals, privileges.

load helpers

RV="$BUILD/tests/tools/rvclient"
UDPSEND="$BUILD/tests/tools/udpsend"

setup() {
	TMP=$(mktemp -d)
	SPID=""
}

teardown() {
	if [ -n "$SPID" ] && kill -0 "$SPID" 2>/dev/null; then
		kill -KILL "$SPID" 2>/dev/null || true
		wait "$SPID" 2>/dev/null || true
	fi
	rm -rf "$TMP"
}

# start_server ARGS...: runs the server on a free loopback port pair; sets SPID and PORT.
start_server() {
	"$PUNCHCAT" serve --allow-root -l 127.0.0.1:0 "$@" 2>"$TMP/log" &
	SPID=$!
	wait_for 5 grep -q 'listening on 127.0.0.1:' "$TMP/log"
	PORT=$(sed -n 's/^punchcat: listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$TMP/log" | head -1)
	[ -n "$PORT" ]
}

# counters: asks for the counters and prints the newest line.
counters() {
	local before
	before=$(grep -c 'counters:' "$TMP/log")
	kill -USR1 "$SPID"
	wait_for 5 test "$(grep -c 'counters:' "$TMP/log")" -gt "$before"
	grep 'counters:' "$TMP/log" | tail -1
}

# counter NAME: the value of one counter now.
counter() {
	counters | tr ' ' '\n' | sed -n "s/^$1=//p"
}

rss_kib() {
	awk '/^VmRSS:/ {print $2}' "/proc/$SPID/status"
}

stop_server() {
	kill -TERM "$SPID"
	local rc=0
	wait "$SPID" || rc=$?
	SPID=""
	return "$rc"
}

@test "serve refuses to run as root without --user or --allow-root" {
	[ "$(id -u)" -eq 0 ] || skip "not root: nothing to refuse"
	run --separate-stderr "$PUNCHCAT" serve -l 127.0.0.1:0
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"refusing to run as root"* ]]
}

@test "serve --user drops root after binding" {
	[ "$(id -u)" -eq 0 ] || skip "not root: cannot drop privileges"
	id nobody >/dev/null 2>&1 || skip "no user 'nobody' on this machine"
	"$PUNCHCAT" serve --user nobody -l 127.0.0.1:0 2>"$TMP/log" &
	SPID=$!
	wait_for 5 grep -q 'running as user nobody' "$TMP/log"
	[ "$(awk '/^Uid:/ {print $2}' "/proc/$SPID/status")" -eq "$(id -u nobody)" ]
	stop_server
}

@test "serve: bad limits are usage errors" {
	run --separate-stderr "$PUNCHCAT" serve --allow-root --max-rooms 0
	[ "$status" -eq 2 ]
	[[ "${stderr_lines[0]}" == *"--max-rooms"* ]]
	run --separate-stderr "$PUNCHCAT" serve --allow-root --relay-rate 12.5X
	[ "$status" -eq 2 ]
	run --separate-stderr "$PUNCHCAT" serve --allow-root -l nonsense
	[ "$status" -eq 2 ]
}

@test "serve: listening line, SIGTERM exits 0, SIGUSR1 prints counters" {
	start_server --max-rooms 500 --relay-rate 12.5M --relay-quota 10G
	line=$(counters)
	[[ "$line" == *"rooms=0"* ]]
	[[ "$line" == *"relayed_bytes=0"* ]]
	stop_server
	grep -q 'punchcat: stopped' "$TMP/log"
}

@test "serve: two peers meet, exchange messages, get GO and relay both ways" {
	start_server
	"$RV" -m hello -e 1 -r -R 50 -t 10 "127.0.0.1:$PORT" >"$TMP/a" &
	apid=$!
	wait_for 5 grep -q '^joined' "$TMP/a"
	np=$(awk '/^nameplate/ {print $2}' "$TMP/a")
	[ "$np" = 1 ]
	run "$RV" -n "$np" -c -m world -e 1 -r -R 50 -t 10 "127.0.0.1:$PORT"
	[ "$status" -eq 0 ]
	[[ "$output" == *"joined 1 responder"* ]]
	[[ "$output" == *"message hello"* ]]
	[[ "$output" == *"go"* ]]
	[[ "$output" == *"relayed sent=50 got=50"* ]]
	wait "$apid"
	grep -q '^joined 1 initiator' "$TMP/a"
	grep -q '^message world' "$TMP/a"
	grep -q 'relayed sent=50 got=50' "$TMP/a"
	# both saw the same room sid
	[ "$(grep -o 'sid=[0-9a-f]*' "$TMP/a")" = "$(echo "$output" | grep -o 'sid=[0-9a-f]*')" ]
	[ "$(counter relayed_packets)" -eq 100 ]
	[ "$(counter go)" -eq 1 ]
}

@test "serve: a UDP GSO run of relay packets (received as one GRO buffer) is relayed packet by packet, intact" {
	start_server
	run "$BUILD/tests/tools/relaybench" gsocheck "127.0.0.1:$PORT" 0
	[ "$status" -ne 77 ] || skip "$output"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(counter relayed_packets)" -eq 20 ]
}

@test "serve: a third member is refused with exit 4" {
	start_server
	"$RV" -n 31 -e 1 -H 60 -t 60 "127.0.0.1:$PORT" >"$TMP/a" &
	apid=$!
	"$RV" -n 31 -m x -H 60 -t 60 "127.0.0.1:$PORT" >"$TMP/b" &
	bpid=$!
	wait_for 20 grep -q '^joined' "$TMP/b"
	run "$RV" -n 31 -t 5 "127.0.0.1:$PORT"
	[ "$status" -eq 4 ]
	[[ "$output" == *"already taken by two peers"* ]]
	kill "$apid" "$bpid" 2>/dev/null || true
	wait "$apid" "$bpid" 2>/dev/null || true
	[ "$(counter room_full)" -eq 1 ]
}

@test "serve: malformed, truncated, oversized and wrong-version datagrams are counted and ignored" {
	start_server
	"$UDPSEND" -n 300 -k short "127.0.0.1:$PORT"
	"$UDPSEND" -n 300 -k version "127.0.0.1:$PORT"
	"$UDPSEND" -n 300 -k oversized "127.0.0.1:$PORT"
	"$UDPSEND" -n 300 -k garbage "127.0.0.1:$PORT"
	"$UDPSEND" -n 300 -k garbage "127.0.0.1:$((PORT + 1))"
	wait_for 5 test "$(counter rx)" -ge 1500
	line=$(counters)
	[[ "$line" =~ drop_short=300\  ]]
	[[ "$line" =~ drop_version=300\  ]]
	[[ "$line" =~ drop_oversized=300\  ]]
	[[ "$line" =~ drop_malformed=600\  ]]
	[[ "$line" =~ rooms=0\  ]]
	[[ "$line" =~ \ tx=0\  ]]
	run "$RV" -n 5 -t 5 "127.0.0.1:$PORT"
	[ "$status" -eq 0 ]
}

@test "serve: 100000 random datagrams leave it responsive with flat RSS" {
	start_server
	"$UDPSEND" -n 2000 "127.0.0.1:$PORT" >/dev/null
	wait_for 5 test "$(counter rx)" -ge 1
	before=$(rss_kib)
	"$UDPSEND" -n 50000 "127.0.0.1:$PORT" >/dev/null
	"$UDPSEND" -n 50000 -s 1200-1472 "127.0.0.1:$((PORT + 1))" >/dev/null
	run "$RV" -n 7 -t 5 "127.0.0.1:$PORT"
	[ "$status" -eq 0 ]
	after=$(rss_kib)
	echo "# RSS before $before KiB, after $after KiB" >&3
	[ "$after" -le $((before + 2048)) ]
	[ "$(counter rooms)" -le 2 ]
	kill -0 "$SPID"
}

@test "serve: one IP flooding allocations is limited while another IP is served" {
	start_server
	run "$RV" -b 127.0.0.2 -A 25 -t 2 "127.0.0.1:$PORT"
	[ "$status" -eq 0 ]
	[ "$output" = "joined=10 refused=15" ]
	run "$RV" -b 127.0.0.3 -t 5 "127.0.0.1:$PORT"
	[ "$status" -eq 0 ]
	[[ "$output" == *"joined"* ]]
	[ "$(counter rate_limited)" -eq 15 ]
}

@test "serve: shutting down tells the waiting members" {
	start_server
	"$RV" -n 11 -e 1 -t 10 "127.0.0.1:$PORT" >"$TMP/a" &
	apid=$!
	wait_for 5 grep -q '^joined' "$TMP/a"
	stop_server
	rc=0
	wait "$apid" || rc=$?
	[ "$rc" -eq 1 ]
	grep -q 'shutting down' "$TMP/a"
}

@test "serve: IPv6 loopback" {
	[ -e /proc/net/if_inet6 ] || skip "no IPv6 on this machine"
	"$PUNCHCAT" serve --allow-root -l '[::1]:0' 2>"$TMP/log" &
	SPID=$!
	wait_for 5 grep -q 'listening on \[::1\]:' "$TMP/log"
	port=$(sed -n 's/^punchcat: listening on \[::1\]:\([0-9]*\)$/\1/p' "$TMP/log")
	run "$RV" -n 3 -t 5 "[::1]:$port"
	[ "$status" -eq 0 ]
	[[ "$output" == *"reflexive=[::1]:"* ]]
	stop_server
}
