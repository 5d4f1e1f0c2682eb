#!/usr/bin/env bats
# The peer end to end on loopback: a real `punchcat serve` and two (or three) real peers.
# Every test starts its own server on an ephemeral port; everything started is stopped in
# teardown. Data is random; both sides' hashes are compared.

load helpers

TOOLS=$BUILD/tests/tools

setup() {
	TMP=$(mktemp -d)
	PIDS=()
	"$PUNCHCAT" serve -l 127.0.0.1:0 --allow-root --ip-rate 6000 --ip-burst 100 \
		>"$TMP/serve.log" 2>&1 &
	SERVE_PID=$!
	wait_for 5 grep -q 'listening on' "$TMP/serve.log" || {
		cat "$TMP/serve.log" >&2
		return 1
	}
	local port
	port=$(sed -n 's/.*listening on [^ ]*:\([0-9][0-9]*\).*/\1/p' "$TMP/serve.log" | head -1)
	export PUNCHCAT_SERVER=127.0.0.1:$port
	export PUNCHCAT_TEST_IDLE_MS=5000
}

teardown() {
	local p f
	for f in "$TMP"/*.pid; do [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null; done
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	kill "$SERVE_PID" 2>/dev/null || true
	wait 2>/dev/null || true
	if [ -f "$TMP/netns" ]; then
		ip netns pids "$(cat "$TMP/netns")" | xargs -r kill -9 2>/dev/null || true
		ip netns del "$(cat "$TMP/netns")" 2>/dev/null || true
	fi
	if [ -n "${BATS_TEST_COMPLETED:-}" ]; then
		rm -rf "$TMP"
	else
		for f in "$TMP"/*.err "$TMP"/serve.log; do
			[ -f "$f" ] && { echo "== $f"; tail -20 "$f"; } >&2
		done
		rm -rf "$TMP"
	fi
}

# peer NAME CODE INPUT [OPTIONS...]: starts a peer in the background reading INPUT, writing
# $TMP/NAME.out and $TMP/NAME.err, its pid in $TMP/NAME.pid and, once it ended, its exit
# status in $TMP/NAME.rc. CODE may be empty (ask the server for one).
peer() {
	local name=$1 code=$2 input=$3 args
	shift 3
	args=("$@")
	[ -n "$code" ] && args+=("$code")
	(
		exec 7>&-	# a test's fifo writer must not leak into the peers
		"$PUNCHCAT" "${args[@]}" <"$input" >"$TMP/$name.out" 2>"$TMP/$name.err" &
		echo $! >"$TMP/$name.pid"
		rc=0
		wait $! || rc=$?	# bats runs with errexit
		echo $rc >"$TMP/$name.rc"
	) &
	PIDS+=($!)
}

pid() { wait_for 5 test -s "$TMP/$1.pid" && cat "$TMP/$1.pid"; }

# reap NAME...: waits (bounded) for the peers to finish.
reap() {
	local n
	for n in "$@"; do
		wait_for 45 test -s "$TMP/$n.rc" || { echo "$n did not finish" >&2; return 1; }
	done
}

rc() { cat "$TMP/$1.rc"; }
bigger_than() { [ "$(stat -c %s "$1")" -gt "$2" ]; }
lines_at_least() { [ "$(grep -c "$2" "$1")" -ge "$3" ]; }
sha() { sha256sum <"$1" | cut -d' ' -f1; }

# transfer BYTES_A BYTES_B [OPTIONS...]: A and B with one pre-agreed code, each sending that
# many random bytes; checks exit statuses and that each received what the other sent.
transfer() {
	head -c "$1" /dev/urandom >"$TMP/a.in"
	head -c "$2" /dev/urandom >"$TMP/b.in"
	shift 2
	NTRANSFER=$((${NTRANSFER:-4200} + 1))	# a fresh nameplate per transfer
	rm -f "$TMP"/[ab].rc "$TMP"/[ab].pid
	peer a "$NTRANSFER-test-code" "$TMP/a.in" "$@"
	peer b "$NTRANSFER-test-code" "$TMP/b.in" "$@"
	reap a b
	[ "$(rc a)" -eq 0 ] && [ "$(rc b)" -eq 0 ] || {
		echo "exit statuses: a=$(rc a) b=$(rc b)" >&2
		return 1
	}
	[ "$(sha "$TMP/a.in")" = "$(sha "$TMP/b.out")" ]
	[ "$(sha "$TMP/b.in")" = "$(sha "$TMP/a.out")" ]
}

@test "0 bytes both ways" {
	transfer 0 0
	[ ! -s "$TMP/a.out" ] && [ ! -s "$TMP/b.out" ]
}

@test "1 byte each way, then both ways at once" {
	transfer 1 0
	transfer 0 1
	transfer 1 1
}

@test "1 MiB each way, then both ways at once" {
	transfer 1048576 0
	transfer 0 1048576
	transfer 1048576 1048576
}

@test "256 MiB both ways at once, hashes equal" {
	local n=$((256 << 20))
	# Streamed through sha256sum on both ends: nothing this big touches the disk.
	( head -c $n /dev/urandom | tee >(sha256sum | cut -d' ' -f1 >"$TMP/a.insha") |
	  timeout 50 "$PUNCHCAT" 4242-big-one | sha256sum | cut -d' ' -f1 >"$TMP/a.outsha"
	  echo "${PIPESTATUS[2]}" >"$TMP/a.rc" ) 2>"$TMP/a.err" &
	PIDS+=($!)
	( head -c $n /dev/urandom | tee >(sha256sum | cut -d' ' -f1 >"$TMP/b.insha") |
	  timeout 50 "$PUNCHCAT" 4242-big-one | sha256sum | cut -d' ' -f1 >"$TMP/b.outsha"
	  echo "${PIPESTATUS[2]}" >"$TMP/b.rc" ) 2>"$TMP/b.err" &
	PIDS+=($!)
	reap a b
	[ "$(rc a)" -eq 0 ] && [ "$(rc b)" -eq 0 ]
	wait_for 5 test -s "$TMP/a.insha"
	wait_for 5 test -s "$TMP/b.insha"
	[ "$(cat "$TMP/a.insha")" = "$(cat "$TMP/b.outsha")" ]
	[ "$(cat "$TMP/b.insha")" = "$(cat "$TMP/a.outsha")" ]
}

@test "without a code: the code is printed, the other side uses it" {
	head -c 100000 /dev/urandom >"$TMP/a.in"
	peer a "" "$TMP/a.in"
	wait_for 10 grep -q '^punchcat: code: ' "$TMP/a.err"
	grep -q '^punchcat: on the other machine run: punchcat ' "$TMP/a.err"
	code=$(sed -n 's/^punchcat: code: //p' "$TMP/a.err")
	[[ "$code" =~ ^[0-9]+-[a-z]+-[a-z]+-[a-z]+$ ]]
	peer b "$code" /dev/null
	reap a b
	[ "$(rc a)" -eq 0 ] && [ "$(rc b)" -eq 0 ]
	[ "$(sha "$TMP/a.in")" = "$(sha "$TMP/b.out")" ]
}

@test "the same pre-agreed code on both sides, typed differently" {
	echo hello >"$TMP/a.in"
	peer a "77-Purple-Elephant" "$TMP/a.in"
	peer b "77 purple  elephant" /dev/null
	reap a b
	[ "$(rc a)" -eq 0 ] && [ "$(rc b)" -eq 0 ]
	[ "$(cat "$TMP/b.out")" = hello ]
}

@test "wrong code: exit 3 on both sides, nothing written" {
	echo secret >"$TMP/a.in"
	echo secret >"$TMP/b.in"
	peer a 55-right-code "$TMP/a.in"
	peer b 55-wrong-code "$TMP/b.in"
	reap a b
	[ "$(rc a)" -eq 3 ] && [ "$(rc b)" -eq 3 ]
	grep -qx 'punchcat: authentication failed (wrong code?)' "$TMP/a.err"
	grep -qx 'punchcat: authentication failed (wrong code?)' "$TMP/b.err"
	[ ! -s "$TMP/a.out" ] && [ ! -s "$TMP/b.out" ]
}

@test "a third peer is refused" {
	mkfifo "$TMP/hold"
	exec 7<>"$TMP/hold"	# keeps A's stdin open: the room stays busy
	peer a 66-busy-room "$TMP/hold" -v
	peer b 66-busy-room /dev/null -v
	wait_for 10 grep -q 'path:' "$TMP/b.err"
	peer c 66-busy-room /dev/null
	reap c
	[ "$(rc c)" -eq 4 ]
	grep -q '^punchcat: .*taken' "$TMP/c.err"
	exec 7>&-
	reap a b
	[ "$(rc a)" -eq 0 ] && [ "$(rc b)" -eq 0 ]
}

@test "-v prints exact path lines: relay first, then direct" {
	head -c 200000 /dev/urandom >"$TMP/a.in"
	peer a 31-path-lines "$TMP/a.in" -v
	peer b 31-path-lines /dev/null -v
	reap a b
	[ "$(rc a)" -eq 0 ] && [ "$(rc b)" -eq 0 ]
	local port=${PUNCHCAT_SERVER##*:}
	for s in a b; do
		grep '^punchcat: path: ' "$TMP/$s.err" >"$TMP/$s.paths"
		head -1 "$TMP/$s.paths" | grep -qx "punchcat: path: relay 127.0.0.1:$port"
		grep -Eqx 'punchcat: path: direct 127\.0\.0\.1:[0-9]+' "$TMP/$s.paths"
		grep -Evq '^punchcat: path: (direct|relay) [0-9.]+:[0-9]+$' "$TMP/$s.paths" && return 1
		grep -q '^punchcat: done: sent ' "$TMP/$s.err"
	done
	[ "$(sha "$TMP/a.in")" = "$(sha "$TMP/b.out")" ]
}

@test "--force-relay: the data never goes direct" {
	head -c 1048576 /dev/urandom >"$TMP/a.in"
	peer a 32-relay-only "$TMP/a.in" -v --force-relay
	peer b 32-relay-only /dev/null -v
	reap a b
	[ "$(rc a)" -eq 0 ] && [ "$(rc b)" -eq 0 ]
	[ "$(sha "$TMP/a.in")" = "$(sha "$TMP/b.out")" ]
	! grep -q 'path: direct' "$TMP/a.err"
	! grep -q 'path: direct' "$TMP/b.err"
	grep -q 'path: relay' "$TMP/a.err"
}

@test "--no-relay when direct is impossible: exit 6" {
	export PUNCHCAT_TEST_BLOCK_DIRECT=1 PUNCHCAT_TEST_CHECK_MS=1000 PUNCHCAT_TEST_IDLE_MS=3000
	echo data >"$TMP/a.in"
	peer a 33-no-relay "$TMP/a.in" --no-relay
	peer b 33-no-relay /dev/null
	reap a b
	[ "$(rc a)" -eq 6 ]
	grep -q 'no direct path' "$TMP/a.err"
	[ "$(rc b)" -ne 0 ]
}

@test "the direct path dies mid-transfer: back to the relay, nothing lost" {
	export PUNCHCAT_TEST_BLOCK_DIRECT_AFTER_MS=300
	head -c 4194304 /dev/urandom >"$TMP/a.in"
	mkfifo "$TMP/feed"
	exec 7<>"$TMP/feed"
	peer a 34-fallback "$TMP/feed" -v
	peer b 34-fallback /dev/null -v
	head -c 1048576 "$TMP/a.in" >&7
	# Relay, direct, then relay again once the direct path stopped answering.
	wait_for 15 lines_at_least "$TMP/a.err" 'path: relay' 2
	tail -c +1048577 "$TMP/a.in" >&7
	exec 7>&-
	reap a b
	[ "$(rc a)" -eq 0 ] && [ "$(rc b)" -eq 0 ]
	[ "$(sha "$TMP/a.in")" = "$(sha "$TMP/b.out")" ]
	grep '^punchcat: path: ' "$TMP/a.err" | sed -n 2p | grep -q '^punchcat: path: direct '
	grep '^punchcat: path: ' "$TMP/a.err" | sed -n 3p | grep -q '^punchcat: path: relay '
}

@test "the server dies after the peers connected: the transfer completes" {
	head -c 4194304 /dev/urandom >"$TMP/a.in"
	mkfifo "$TMP/feed"
	exec 7<>"$TMP/feed"
	peer a 35-no-server "$TMP/feed" -v
	peer b 35-no-server /dev/null -v
	wait_for 10 grep -q 'path: direct' "$TMP/a.err"
	wait_for 10 grep -q 'path: direct' "$TMP/b.err"
	kill -9 "$SERVE_PID"
	cat "$TMP/a.in" >&7
	exec 7>&-
	reap a b
	[ "$(rc a)" -eq 0 ] && [ "$(rc b)" -eq 0 ]
	[ "$(sha "$TMP/a.in")" = "$(sha "$TMP/b.out")" ]
}

@test "the peer is killed mid-transfer: exit 5 within the idle timeout" {
	export PUNCHCAT_TEST_IDLE_MS=2000
	peer a 36-vanish /dev/zero -v
	peer b 36-vanish /dev/null -v
	wait_for 10 grep -q 'path: direct' "$TMP/b.err"
	wait_for 10 bigger_than "$TMP/b.out" 1000000
	kill -9 "$(pid b)"
	reap a
	[ "$(rc a)" -eq 5 ]
	grep -q 'connection lost' "$TMP/a.err"
}

@test "SIGINT tells the peer: 130 here, 5 there" {
	peer a 37-sigint /dev/zero -v
	peer b 37-sigint /dev/null -v
	wait_for 10 grep -q 'path: direct' "$TMP/a.err"
	kill -INT "$(pid a)"
	reap a b
	[ "$(rc a)" -eq 130 ]
	[ "$(rc b)" -eq 5 ]
	grep -q 'signal 2' "$TMP/b.err"
}

@test "a slow consumer keeps memory bounded on both sides" {
	local n=$((96 << 20))
	( timeout 50 "$TOOLS/maxrss" "$TMP/a.rss" "$PUNCHCAT" 38-slow-reader < <(head -c $n /dev/zero) \
		>/dev/null 2>"$TMP/a.err" && echo 0 >"$TMP/a.rc" || echo $? >"$TMP/a.rc" ) &
	PIDS+=($!)
	( timeout 50 "$TOOLS/maxrss" "$TMP/b.rss" "$PUNCHCAT" 38-slow-reader </dev/null \
		2>"$TMP/b.err" | { sleep 2; cat >/dev/null; }; echo "${PIPESTATUS[0]}" >"$TMP/b.rc" ) &
	PIDS+=($!)
	reap a b
	[ "$(rc a)" -eq 0 ] && [ "$(rc b)" -eq 0 ]
	echo "peak RSS: a $(cat "$TMP/a.rss") KiB, b $(cat "$TMP/b.rss") KiB" >&3
	[ "$(cat "$TMP/a.rss")" -lt 65536 ]
	[ "$(cat "$TMP/b.rss")" -lt 65536 ]
}

@test "stdin is a terminal: the receiver exits by itself when the peer is done" {
	head -c 300000 /dev/urandom >"$TMP/a.in"
	peer a 39-terminal "$TMP/a.in"
	( timeout 30 "$TOOLS/ptyrun" sh -c "exec \"$PUNCHCAT\" 39-terminal >\"$TMP/b.out\"" \
		2>"$TMP/b.err" && echo 0 >"$TMP/b.rc" || echo $? >"$TMP/b.rc" ) &
	PIDS+=($!)
	reap a b
	[ "$(rc a)" -eq 0 ] && [ "$(rc b)" -eq 0 ]
	[ "$(sha "$TMP/a.in")" = "$(sha "$TMP/b.out")" ]
}

@test "nobody comes: exit 4 after --wait" {
	peer a 40-alone /dev/null -w 1
	reap a
	[ "$(rc a)" -eq 4 ]
}

@test "stdout closed early (EPIPE): exit 1 with a message, the peer exits 5" {
	head -c 20000000 /dev/zero >"$TMP/a.in"
	peer a 41-epipe "$TMP/a.in"
	( "$PUNCHCAT" 41-epipe </dev/null 2>"$TMP/b.err" | head -c 10 >/dev/null
	  echo "${PIPESTATUS[0]}" >"$TMP/b.rc" ) &
	PIDS+=($!)
	reap a b
	[ "$(rc b)" -eq 1 ]
	grep -q '^punchcat: cannot write to stdout: ' "$TMP/b.err"
	[ "$(rc a)" -eq 5 ]
}

@test "the server given by name is resolved without blocking" {
	echo by-name >"$TMP/a.in"
	peer a 42-by-name "$TMP/a.in" -4 -s "localhost:${PUNCHCAT_SERVER##*:}"
	peer b 42-by-name /dev/null -4 -s "localhost:${PUNCHCAT_SERVER##*:}"
	reap a b
	[ "$(rc a)" -eq 0 ] && [ "$(rc b)" -eq 0 ]
	[ "$(cat "$TMP/b.out")" = by-name ]
}

@test "-P shows progress with the size of a regular file, -q prints nothing" {
	head -c 3000000 /dev/urandom >"$TMP/a.in"
	peer a 43-progress "$TMP/a.in" -P
	peer b 43-progress /dev/null -P -q
	reap a b
	[ "$(rc a)" -eq 0 ] && [ "$(rc b)" -eq 0 ]
	grep -Eq '^punchcat: +[0-9]+% sent ' "$TMP/a.err"
	[ ! -s "$TMP/b.err" ]
}

@test "IPv6 loopback: relay and direct over ::1" {
	ip -6 addr show dev lo 2>/dev/null | grep -q '::1' || skip "no ::1 on this machine"
	"$PUNCHCAT" serve -l '[::1]:0' --allow-root >"$TMP/serve6.log" 2>&1 &
	PIDS+=($!)
	wait_for 5 grep -q 'listening on' "$TMP/serve6.log"
	local port
	port=$(sed -n 's/.*listening on \[::1\]:\([0-9][0-9]*\).*/\1/p' "$TMP/serve6.log" | head -1)
	head -c 100000 /dev/urandom >"$TMP/a.in"
	peer a 44-six "$TMP/a.in" -v -s "[::1]:$port"
	peer b 44-six /dev/null -v -s "[::1]:$port"
	reap a b
	[ "$(rc a)" -eq 0 ] && [ "$(rc b)" -eq 0 ]
	[ "$(sha "$TMP/a.in")" = "$(sha "$TMP/b.out")" ]
	grep -Eqx 'punchcat: path: direct \[::1\]:[0-9]+' "$TMP/b.err"
}

@test "a server that does not relay: direct only, no relay path line" {
	"$PUNCHCAT" serve -l 127.0.0.1:0 --allow-root --no-relay >"$TMP/serve-nr.log" 2>&1 &
	PIDS+=($!)
	wait_for 5 grep -q 'listening on' "$TMP/serve-nr.log"
	local port
	port=$(sed -n 's/.*listening on [^ ]*:\([0-9][0-9]*\).*/\1/p' "$TMP/serve-nr.log" | head -1)
	head -c 500000 /dev/urandom >"$TMP/a.in"
	peer a 45-no-relay-server "$TMP/a.in" -v -s "127.0.0.1:$port"
	peer b 45-no-relay-server /dev/null -v -s "127.0.0.1:$port"
	reap a b
	[ "$(rc a)" -eq 0 ] && [ "$(rc b)" -eq 0 ]
	[ "$(sha "$TMP/a.in")" = "$(sha "$TMP/b.out")" ]
	! grep -q 'path: relay' "$TMP/a.err"
	grep -q 'path: direct' "$TMP/a.err"
}

# fixed_serve PORT: starts a server on 127.0.0.1:PORT (pid in FIXED_PID, log fixed.log);
# fails when it could not listen there (the port, or PORT+1, is taken).
fixed_serve() {
	: >"$TMP/fixed.log"
	"$PUNCHCAT" serve -l "127.0.0.1:$1" --allow-root --ip-rate 6000 --ip-burst 100 \
		>"$TMP/fixed.log" 2>&1 7>&- &	# not the test's fifo writer
	FIXED_PID=$!
	PIDS+=($FIXED_PID)
	wait_for 5 fixed_settled || return 1
	grep -q 'listening on' "$TMP/fixed.log"
}
fixed_settled() { grep -q 'listening on' "$TMP/fixed.log" || ! kill -0 "$FIXED_PID" 2>/dev/null; }

# fixed_port: a server on a fixed port (a restarted server must come back on the same one),
# proved free by binding it; sets FIXED_PORT and PUNCHCAT_SERVER. Fails after 10 taken ports.
fixed_port() {
	local try
	FIXED_PORT=""
	for try in 1 2 3 4 5 6 7 8 9 10; do
		try=$((20000 + RANDOM % 12000))
		if fixed_serve "$try"; then FIXED_PORT=$try; break; fi
	done
	[ -n "$FIXED_PORT" ] || return 1
	export PUNCHCAT_SERVER=127.0.0.1:$FIXED_PORT
}

@test "the server restarts while the peers are on the relay: the transfer completes" {
	export PUNCHCAT_TEST_IDLE_MS=10000
	local port
	fixed_port || skip "no free fixed UDP port pair found in 10 tries"
	port=$FIXED_PORT
	head -c 6291456 /dev/urandom >"$TMP/a.in"
	mkfifo "$TMP/feed"
	exec 7<>"$TMP/feed"
	peer a 36-restart "$TMP/feed" -v --force-relay
	peer b 36-restart /dev/null -v --force-relay
	head -c 2097152 "$TMP/a.in" >&7		# the rest waits: the transfer is running
	wait_for 15 bigger_than "$TMP/b.out" 1048576
	kill -9 "$FIXED_PID"
	wait "$FIXED_PID" 2>/dev/null || true
	# Same port again; retried in case a stray socket grabbed it meanwhile.
	wait_for 10 fixed_serve "$port"
	wait_for 15 grep -q 'relay resumed' "$TMP/a.err"
	wait_for 15 grep -q 'relay resumed' "$TMP/b.err"
	tail -c +2097153 "$TMP/a.in" >&7
	exec 7>&-
	reap a b
	[ "$(rc a)" -eq 0 ] && [ "$(rc b)" -eq 0 ]
	[ "$(sha "$TMP/a.in")" = "$(sha "$TMP/b.out")" ]
	[ "$(stat -c %s "$TMP/a.out")" -eq 0 ]
	! grep -q 'path: direct' "$TMP/a.err" "$TMP/b.err"
}

# resumed_at_least N: both peers together logged N resumes.
resumed_at_least() {
	[ $(($(grep -c 'relay resumed' "$TMP/a.err") + $(grep -c 'relay resumed' "$TMP/b.err"))) -ge "$1" ]
}

@test "a stranger takes the nameplate during a server restart: the peers still finish" {
	export PUNCHCAT_TEST_IDLE_MS=15000
	local port pa pb
	fixed_port || skip "no free fixed UDP port pair found in 10 tries"
	port=$FIXED_PORT
	head -c 2097152 /dev/urandom >"$TMP/a.in"
	mkfifo "$TMP/feed"
	exec 7<>"$TMP/feed"
	peer a 37-stranger "$TMP/feed" -v --force-relay
	peer b 37-stranger /dev/null -v --force-relay
	head -c 1048576 "$TMP/a.in" >&7
	wait_for 15 bigger_than "$TMP/b.out" 524288
	pa=$(pid a)
	pb=$(pid b)
	# Frozen peers cannot re-join first: the stranger holds nameplate 37 when they wake.
	kill -STOP "$pa" "$pb"
	kill -9 "$FIXED_PID"
	wait "$FIXED_PID" 2>/dev/null || true
	wait_for 10 fixed_serve "$port"
	"$BUILD/tests/tools/rvclient" -n 37 -R 2000 -t 30 "127.0.0.1:$port" \
		>"$TMP/stranger.out" 2>&1 7>&- &
	PIDS+=($!)
	wait_for 5 grep -q '^joined 37' "$TMP/stranger.out"
	kill -CONT "$pa" "$pb"
	# One peer lands with the stranger (whose packets do not authenticate), the other is
	# refused; the first leaves after 4 s without an authenticated packet, and they meet.
	wait_for 20 resumed_at_least 3
	tail -c +1048577 "$TMP/a.in" >&7
	exec 7>&-
	reap a b
	[ "$(rc a)" -eq 0 ] && [ "$(rc b)" -eq 0 ]
	[ "$(sha "$TMP/a.in")" = "$(sha "$TMP/b.out")" ]
	grep -q 'peer_joined' "$TMP/stranger.out"
}

@test "a LAN-sized path (1200-byte datagrams, sent with UDP GSO and received with GRO where the kernel has them): 32 MiB both ways intact" {
	[ "$(id -u)" -eq 0 ] || skip "needs root for a private network namespace"
	ip -br -4 addr | grep -q ' 10\.254\.' && skip "this machine uses 10.254.0.0/16"
	local ns=pcpeer$$
	ip netns add "$ns" || skip "cannot create a network namespace"
	echo "$ns" >"$TMP/netns"
	# own addresses route through lo: loopback's kernel path, a LAN's datagram size
	ip -n "$ns" link set lo up
	ip -n "$ns" link add lan0 type veth peer name lan1
	ip -n "$ns" addr add 10.254.78.1/24 dev lan0
	ip -n "$ns" link set lan0 up
	ip -n "$ns" link set lan1 up
	ip netns exec "$ns" "$PUNCHCAT" serve -l 10.254.78.1:0 --allow-root --ip-rate 6000 \
		--ip-burst 100 >"$TMP/serve.lan.log" 2>&1 &
	PIDS+=($!)
	wait_for 5 grep -q 'listening on' "$TMP/serve.lan.log"
	local port
	port=$(sed -n 's/.*listening on [^ ]*:\([0-9][0-9]*\).*/\1/p' "$TMP/serve.lan.log" | head -1)
	head -c 32M /dev/urandom >"$TMP/a.in"
	head -c 32M /dev/urandom >"$TMP/b.in"
	local n
	for n in a b; do
		(
			rc=0
			ip netns exec "$ns" "$PUNCHCAT" -v -s "10.254.78.1:$port" 31-lan-path \
				<"$TMP/$n.in" >"$TMP/$n.out" 2>"$TMP/$n.err" || rc=$?
			echo $rc >"$TMP/$n.rc"
		) &
		PIDS+=($!)
	done
	reap a b
	ip netns pids "$ns" | xargs -r kill 2>/dev/null || true
	ip netns del "$ns"
	rm -f "$TMP/netns"
	[ "$(rc a)" -eq 0 ] && [ "$(rc b)" -eq 0 ]
	grep -q 'path: direct 10.254.78.1:' "$TMP/a.err"
	[ "$(sha "$TMP/a.in")" = "$(sha "$TMP/b.out")" ]
	[ "$(sha "$TMP/b.in")" = "$(sha "$TMP/a.out")" ]
}

@test "stdin and stdout pipes grow to 1 MiB (fewer, larger reads and writes)" {
	# The pipes are checked from this side while the peer waits in its room; io_init has run
	# by then (before the rendezvous starts).
	run timeout 20 python3 - "$PUNCHCAT" "$PUNCHCAT_SERVER" <<'PY'
import fcntl, os, subprocess, sys
pc, server = sys.argv[1:3]
in_r, in_w = os.pipe()
out_r, out_w = os.pipe()
p = subprocess.Popen([pc, "-v", "-w", "10", "-s", server, "771-pipe-size-test"], stdin=in_r,
                     stdout=out_w, stderr=subprocess.PIPE, text=True)
os.close(in_r); os.close(out_w)
for line in p.stderr:
    if "in room" in line:
        break
sizes = (fcntl.fcntl(in_w, fcntl.F_GETPIPE_SZ), fcntl.fcntl(out_r, fcntl.F_GETPIPE_SZ))
p.kill(); p.wait()
print("stdin %d stdout %d" % sizes)
sys.exit(0 if sizes == (1 << 20, 1 << 20) else 1)
PY
	echo "$output"
	[ "$status" -eq 0 ]
}
