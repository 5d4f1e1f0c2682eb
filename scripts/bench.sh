#!/usr/bin/env bash
# punchcat benchmarks against the tools people would otherwise use, all measured in this run.
# One command runs everything and prints markdown tables with medians of RUNS runs and the ratio
# to each baseline measured in the same run:
#   loopback  SIZE_MB MiB /dev/zero -> /dev/null: punchcat (direct, encrypted) vs nc (TCP) vs
#             socat OPENSSL (TLS, throwaway certificate); CPU s/GiB per side; peak RSS per side
#   lab       NAT lab (prc x prc), WAN emulator 100 Mbit/s, 50 ms RTT, 0/1/5 % loss on one side's
#             link: punchcat vs TCP CUBIC and TCP BBR (nc) over the same emulated link
#   connect   second peer's start (its exec, after entering the namespace) -> its "path: direct"
#             line, p50/p95 of CONNECT_RUNS runs, on loopback and in the lab (prc x prc, same
#             emulated link without loss)
#   relay     scripts/bench-relay.sh: relay throughput through `punchcat serve` on one core
# Usage: scripts/bench.sh [loopback] [lab] [connect] [relay]     (default: all sections)
# Environment: RUNS (3), SIZE_MB (2048), LAB_SECS (15, per lab transfer), CONNECT_RUNS (20),
#   RELAY_SECS (3), PUNCHCAT (./punchcat).
# Installs nothing: a missing tool is reported on stderr and its rows say n/a. Traffic stays on
# loopback and inside the lab's own namespaces; everything started is stopped on exit.
set -u
cd "$(dirname "$0")/.." || exit 1
ROOT=$PWD
PUNCHCAT=${PUNCHCAT:-$ROOT/punchcat}
RUNS=${RUNS:-3}
SIZE_MB=${SIZE_MB:-2048}
LAB_SECS=${LAB_SECS:-15}
CONNECT_RUNS=${CONNECT_RUNS:-20}
RELAY_SECS=${RELAY_SECS:-3}
NATLAB_SH=$ROOT/scripts/natlab.sh
sections=${*:-loopback lab connect relay}
tmp=$(mktemp -d) || exit 1
pids=()
lab_up=0
lan_ns=""
cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	if [ -n "$lan_ns" ]; then
		ip netns pids "$lan_ns" 2>/dev/null | xargs -r kill 2>/dev/null
		sleep 0.2
		ip netns del "$lan_ns" 2>/dev/null
	fi
	[ "$lab_up" = 1 ] && "$NATLAB_SH" down >/dev/null 2>&1
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

have() { command -v "$1" >/dev/null 2>&1 || { echo "bench: $1 is not installed: ${2:-skipped}" >&2; return 1; }; }
median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) print "n/a"; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (a+0>0 && b+0>0) printf "%.2f", a/b; else print "n/a"}'; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
nameplate=600
next_code() { nameplate=$((nameplate + 1)); echo "$nameplate-bench-$1"; }

# wait_listen PORT [NETNS]: waits (at most 5 s) until a TCP socket listens on PORT.
wait_listen() {
	local ns=()
	[ -n "${2:-}" ] && ns=(ip netns exec "$2")
	for _ in $(seq 100); do
		"${ns[@]}" ss -Hltn "sport = :$1" | grep -q . && return 0
		sleep 0.05
	done
	echo "bench: nothing listens on port $1" >&2
	return 1
}

# wait_line FILE PATTERN SECONDS: waits until FILE has a line matching PATTERN.
wait_line() {
	for _ in $(seq $(($3 * 50))); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.02
	done
	return 1
}

# start_serve: a rendezvous server on loopback whose per-IP limits do not stop a benchmark's
# many JOINs; sets SERVER.
start_serve() {
	local log=$tmp/serve.$RANDOM.log
	"$PUNCHCAT" serve --allow-root -l 127.0.0.1:0 --ip-rate 100000 --ip-burst 10000 2>"$log" &
	pids+=($!)
	wait_line "$log" 'listening on' 5 || { echo "bench: punchcat serve did not start" >&2; return 1; }
	SERVER=$(sed -n 's/^punchcat: listening on \([^ ]*\)$/\1/p' "$log" | head -1)
}

# ---------------------------------------------------------------- loopback

# xfer NAME RECV_CMD SEND_CMD [TCP_PORT]: one transfer of SIZE_MB MiB of zeros; the commands are
# run under /usr/bin/time (the tool itself, not the data source). Appends
# "MBps send_cpu_s_per_GiB recv_cpu_s_per_GiB send_rss_KiB recv_rss_KiB" to $tmp/NAME.
xfer() {
	local name=$1 recv=$2 send=$3 t0 t1 rpid
	# shellcheck disable=SC2086
	/usr/bin/time -f '%U %S %M' -o "$tmp/recv.time" $recv </dev/null >/dev/null 2>"$tmp/recv.err" &
	rpid=$!
	if [ -n "${4:-}" ] && ! wait_listen "$4"; then kill "$rpid"; wait "$rpid"; return 1; fi
	t0=$EPOCHREALTIME
	# shellcheck disable=SC2086
	head -c "${SIZE_MB}M" /dev/zero | /usr/bin/time -f '%U %S %M' -o "$tmp/send.time" $send \
		2>"$tmp/send.err"
	wait "$rpid"
	t1=$EPOCHREALTIME
	if ! grep -q '^[0-9.]* [0-9.]* [0-9]*$' "$tmp/recv.time" "$tmp/send.time" 2>/dev/null; then
		echo "bench: $name run failed: $(tail -2 "$tmp/send.err" "$tmp/recv.err" | tr '\n' ' ')" >&2
		return 1
	fi
	read -r su ss sm <"$tmp/send.time"
	read -r ru rs rm <"$tmp/recv.time"
	awk -v mb="$SIZE_MB" -v t0="$t0" -v t1="$t1" -v st="$(awk "BEGIN{print $su+$ss}")" \
		-v rt="$(awk "BEGIN{print $ru+$rs}")" -v sm="$sm" -v rm="$rm" \
		'BEGIN {g=mb/1024; printf "%.1f %.2f %.2f %d %d\n", mb/(t1-t0), st/g, rt/g, sm, rm}' \
		>>"$tmp/$name"
}

col() { [ -s "$tmp/$1" ] && cut -d' ' -f"$2" "$tmp/$1" | median || echo n/a; }

loop_row() { # NAME LABEL
	[ -s "$tmp/$1" ] || { echo "| $2 | n/a | | | | | | |"; return; }
	local m
	m=$(col "$1" 1)
	echo "| $2 | $m | $(ratio "$m" "$(col nc 1)") | $(ratio "$m" "$(col socat 1)") | $(col "$1" 2) | $(col "$1" 3) | $(col "$1" 4) | $(col "$1" 5) |"
}

# lan_start: a private namespace with a veth pair (both ends inside) and 10.254.77.1 on one
# end: peers talking to that address use 1200-byte datagrams as on a LAN, while the kernel
# path is loopback's (own addresses route through lo). Sets LAN_SERVER.
lan_start() {
	[ "$(id -u)" -eq 0 ] || { echo "bench: the LAN-path row needs root (a namespace): skipped" >&2; return 1; }
	if ip -br -4 addr | grep -q ' 10\.254\.'; then
		echo "bench: this machine uses 10.254.0.0/16: LAN-path row skipped" >&2
		return 1
	fi
	lan_ns=pcbench$$
	ip netns add "$lan_ns" || { lan_ns=""; return 1; }
	ip -n "$lan_ns" link set lo up &&
		ip -n "$lan_ns" link add lan0 type veth peer name lan1 &&
		ip -n "$lan_ns" addr add 10.254.77.1/24 dev lan0 &&
		ip -n "$lan_ns" link set lan0 up && ip -n "$lan_ns" link set lan1 up || return 1
	local log=$tmp/serve.lan.log
	ip netns exec "$lan_ns" "$PUNCHCAT" serve --allow-root -l 10.254.77.1:0 --ip-rate 100000 \
		--ip-burst 10000 2>"$log" &
	pids+=($!)
	wait_line "$log" 'listening on' 5 || return 1
	LAN_SERVER=$(sed -n 's/^punchcat: listening on \([^ ]*\)$/\1/p' "$log" | head -1)
}

bench_loopback() {
	local port code tls=0 nc_ok=0
	have nc "no TCP baseline" && nc_ok=1
	if have socat "no TLS baseline" && have openssl "no TLS baseline"; then
		openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=bench \
			-keyout "$tmp/key.pem" -out "$tmp/cert.pem" 2>/dev/null && tls=1
	fi
	start_serve || return
	local lan=0
	lan_start && lan=1
	# interleaved, so a change in machine load hits every tool alike
	for _ in $(seq "$RUNS"); do
		if [ "$nc_ok" = 1 ]; then
			port=$(free_port)
			xfer nc "nc -l 127.0.0.1 $port" "nc -N 127.0.0.1 $port" "$port"
		fi
		if [ "$tls" = 1 ]; then
			port=$(free_port)
			xfer socat "socat -u OPENSSL-LISTEN:$port,bind=127.0.0.1,cert=$tmp/cert.pem,key=$tmp/key.pem,verify=0 STDOUT" \
				"socat -u STDIN OPENSSL:127.0.0.1:$port,verify=0" "$port"
		fi
		code=$(next_code loop)
		xfer punchcat "$PUNCHCAT -q -w 30 -s $SERVER $code" "$PUNCHCAT -q -w 30 -s $SERVER $code"
		if [ "$lan" = 1 ]; then
			code=$(next_code lan)
			xfer punchcat-lan "ip netns exec $lan_ns $PUNCHCAT -q -w 30 -s $LAN_SERVER $code" \
				"ip netns exec $lan_ns $PUNCHCAT -q -w 30 -s $LAN_SERVER $code"
		fi
	done
	echo "## Loopback: ${SIZE_MB} MiB /dev/zero -> /dev/null, median of $RUNS runs"
	echo
	echo "| tool | MB/s | ratio to nc | ratio to socat TLS | sender CPU s/GiB | receiver CPU s/GiB | sender peak RSS KiB | receiver peak RSS KiB |"
	echo "|---|---|---|---|---|---|---|---|"
	loop_row nc "nc (TCP, plaintext)"
	loop_row socat "socat OPENSSL (TLS)"
	loop_row punchcat "punchcat (direct, encrypted)"
	loop_row punchcat-lan "punchcat (direct, encrypted, 1200-byte datagrams as on a LAN)"
	echo
}

# ---------------------------------------------------------------- connect time

# connect_times LABEL RUNS SERVER FIRST_NETNS SECOND_NETNS: the first peer waits in its room, the
# second is started; milliseconds from that start to its "path: direct" line (and to its first
# path line, when data can flow). Timed in python: forks per line would cost more than this.
connect_times() {
	python3 - "$PUNCHCAT" "$@" "$nameplate" <<'PY'
import subprocess, sys, threading, time
pc, label, runs, server, ns1, ns2, base = sys.argv[1:8]
runs, base = int(runs), int(base)
def cmd(ns, code, verbose, gate=False):
    pre = ["ip", "netns", "exec", ns] if ns != "-" else []
    if gate:	# a shell already in the namespace execs the peer when told: the clock starts
        # there, so what `ip netns exec` costs (about 7 ms) is not counted as connect time
        pre += ["sh", "-c", 'echo gate >&2; read -r _; exec "$0" "$@"']
    return pre + [pc, "-w", "20", verbose, "-s", server, code]
def pct(v, p):
    v = sorted(v)
    return "%.1f" % v[min(len(v) - 1, int((len(v) - 1) * p / 100 + 0.5))] if v else "n/a"
first_path, direct = [], []
for i in range(runs):
    code = "%d-bench-connect" % (base + 1 + i)
    # stdin stays open until the direct path is up (or 15 s pass): an idle peer would be done
    # (and exit) right after its first path line.
    a = subprocess.Popen(cmd(ns1, code, "-vv"), stdin=subprocess.PIPE,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    for line in a.stderr:		# the first peer waits in its room
        if "in room" in line:
            break
    b = subprocess.Popen(cmd(ns2, code, "-v", True), stdin=subprocess.PIPE,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    b.stderr.readline()		# "gate": the shell is in the namespace
    t0 = time.monotonic()
    b.stdin.write("\n")
    b.stdin.flush()
    def release():
        for p in (a, b):
            try:
                p.stdin.close()
            except OSError:
                pass
    timer = threading.Timer(15, release)
    timer.start()
    for line in b.stderr:
        ms = (time.monotonic() - t0) * 1000
        if "path: " in line and len(first_path) == i:
            first_path.append(ms)
        if "path: direct" in line and len(direct) == i:
            direct.append(ms)
            release()
    timer.cancel()
    release()
    try:
        b.wait(timeout=30)
        a.stderr.read()
        a.wait(timeout=30)
    except subprocess.TimeoutExpired:
        a.kill(); b.kill(); a.wait(); b.wait()
print("| %s | %s | %s | %s | %s | %d/%d |" % (label, pct(direct, 50), pct(direct, 95),
      pct(first_path, 50), pct(first_path, 95), len(direct), runs))
PY
	nameplate=$((nameplate + $2 + 1))
}

connect_header() {
	echo "| where | direct p50 ms | direct p95 ms | first path p50 ms | first path p95 ms | runs direct |"
	echo "|---|---|---|---|---|---|"
}

bench_connect_loopback() {
	start_serve || return
	echo "## Connect time: second peer's start -> its path line, $CONNECT_RUNS runs (target <= 3 RTT + 10 ms)"
	echo
	connect_header
	connect_times "loopback (RTT ~0: target 10 ms)" "$CONNECT_RUNS" "$SERVER" - -
	echo
}

# ---------------------------------------------------------------- NAT lab

lab_start() {
	[ "$lab_up" = 1 ] && return 0
	[ "$(id -u)" -eq 0 ] || { echo "bench: the NAT lab needs root: skipped" >&2; return 1; }
	[ -x "$NATLAB_SH" ] || { echo "bench: no scripts/natlab.sh: lab skipped" >&2; return 1; }
	[ -x build/tests/tools/wanem ] || make -s tools >/dev/null || return 1
	local line
	line=$("$NATLAB_SH" up prc-a prc-b) || { echo "bench: the NAT lab did not come up" >&2; return 1; }
	export NATLAB=${line#NATLAB=}
	LABP=$(cat "$NATLAB/prefix")
	lab_up=1
	"$NATLAB_SH" serve >/dev/null || return 1
	LAB_SERVER=203.0.113.10:7430
	return 0
}

# lab_link LOSS: the emulated WAN link on prc-a's uplink: 100 Mbit/s, 25 ms each way, LOSS % in
# each direction, a drop-tail queue of one BDP (625 kB).
lab_link() {
	"$NATLAB_SH" wanem prc-a off >/dev/null 2>&1
	"$NATLAB_SH" wanem prc-a rate 100mbit delay 25 limit 625000 loss "$1" >/dev/null
}

# count_rate SECS FIFO: reads FIFO; prints Mbit/s over the SECS seconds that follow the first
# byte (or until EOF), then exits (closing the FIFO ends the writer). The writer's open of the
# FIFO waits for this reader, so the reader runs before any byte can arrive: a reader that
# started late would find bytes already queued in the pipe and start its clock after them.
count_rate() {
	python3 -c '
import os, select, sys, time
secs = float(sys.argv[1]); n = 0; t0 = None; give_up = time.monotonic() + 60
fd = os.open(sys.argv[2], os.O_RDONLY | os.O_NONBLOCK)
while True:
    end = t0 + secs if t0 is not None else give_up
    left = end - time.monotonic()
    if left <= 0 or not select.select([fd], [], [], left)[0]:
        break
    try:
        b = os.read(fd, 1 << 20)
    except BlockingIOError:
        continue
    if not b:
        break
    if t0 is None:
        t0 = time.monotonic()
    n += len(b)
el = time.monotonic() - t0 if t0 is not None else 0
print("%.2f" % (n * 8 / el / 1e6 if el > 0 else 0))
' "$1" "$2"
}

# lab_tcp CC: nc from h-prc-a to the rendezvous host over the emulated link, sender's congestion
# control CC (set in the sender's namespace).
lab_tcp() {
	local cc=$1 r rpid spid sender
	# A namespace may only default to an algorithm in the host's
	# net.ipv4.tcp_allowed_congestion_control; otherwise (cubic on a bbr host) the sender sets
	# TCP_CONGESTION on its own socket (root may pick any available one).
	if ip netns exec "$LABP-h-prc-a" sysctl -q -w net.ipv4.tcp_congestion_control="$cc" 2>/dev/null; then
		sender=(nc -N 203.0.113.10 5001)
	else
		[ -z "${tcp_note:-}" ] && tcp_note="TCP $cc: the namespace may not default to it (host's tcp_allowed_congestion_control: $(cat /proc/sys/net/ipv4/tcp_allowed_congestion_control)), so the sender sets TCP_CONGESTION=$cc on its socket (python) instead of nc"
		sender=(python3 -c '
import socket, sys
s = socket.socket()
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, sys.argv[1].encode())
s.connect(("203.0.113.10", 5001))
buf = bytes(1 << 20)
try:
    while True:
        s.sendall(buf)
except OSError:
    pass
' "$cc")
	fi
	rm -f "$tmp/fifo" && mkfifo "$tmp/fifo" || return 1
	count_rate "$LAB_SECS" "$tmp/fifo" >"$tmp/rate" &
	r=$!
	ip netns exec "$LABP-rv" nc -l 203.0.113.10 5001 </dev/null >"$tmp/fifo" &
	rpid=$!
	wait_listen 5001 "$LABP-rv" || { kill "$r" "$rpid" 2>/dev/null; return 1; }
	ip netns exec "$LABP-h-prc-a" timeout $((LAB_SECS + 30)) "${sender[@]}" </dev/zero 2>/dev/null &
	spid=$!
	wait "$r"
	kill "$spid" "$rpid" 2>/dev/null
	wait "$spid" "$rpid" 2>/dev/null
	cat "$tmp/rate"
}

lab_punchcat() {
	local code r rpid spid
	code=$(next_code lab)
	rm -f "$tmp/fifo" && mkfifo "$tmp/fifo" || return 1
	count_rate "$LAB_SECS" "$tmp/fifo" >"$tmp/rate" &
	r=$!
	ip netns exec "$LABP-h-prc-b" timeout $((LAB_SECS + 60)) "$PUNCHCAT" -q -w 30 \
		-s "$LAB_SERVER" "$code" </dev/null 2>/dev/null >"$tmp/fifo" &
	rpid=$!
	ip netns exec "$LABP-h-prc-a" timeout $((LAB_SECS + 60)) "$PUNCHCAT" -q -w 30 \
		-s "$LAB_SERVER" "$code" </dev/zero >/dev/null 2>&1 &
	spid=$!
	wait "$r"
	kill "$spid" "$rpid" 2>/dev/null
	wait "$spid" "$rpid" 2>/dev/null
	cat "$tmp/rate"
}

bench_lab() {
	lab_start || return
	local loss
	for loss in 0 1 5; do
		lab_link "$loss" || { echo "bench: wanem did not start" >&2; return; }
		: >"$tmp/lab.cubic.$loss"
		: >"$tmp/lab.bbr.$loss"
		: >"$tmp/lab.pc.$loss"
		for _ in $(seq "$RUNS"); do
			have nc && lab_tcp cubic >>"$tmp/lab.cubic.$loss"
			have nc && lab_tcp bbr >>"$tmp/lab.bbr.$loss"
			lab_punchcat >>"$tmp/lab.pc.$loss"
		done
	done
	"$NATLAB_SH" wanem prc-a off >/dev/null 2>&1
	echo "## Emulated WAN (NAT lab, prc x prc): 100 Mbit/s, 50 ms RTT, ${LAB_SECS} s per transfer from the first byte, median of $RUNS runs, Mbit/s"
	echo
	echo "| loss | TCP CUBIC (nc) | TCP BBR (nc) | punchcat | punchcat / BBR | punchcat / CUBIC |"
	echo "|---|---|---|---|---|---|"
	for loss in 0 1 5; do
		local c b p
		c=$(median <"$tmp/lab.cubic.$loss")
		b=$(median <"$tmp/lab.bbr.$loss")
		p=$(median <"$tmp/lab.pc.$loss")
		echo "| $loss % | $c | $b | $p | $(ratio "$p" "$b") | $(ratio "$p" "$c") |"
	done
	echo
	[ -n "${tcp_note:-}" ] && echo "- $tcp_note" && echo
}

bench_connect_lab() {
	lab_start || return
	lab_link 0 || return
	echo "## Connect time in the NAT lab: prc x prc, 50 ms RTT on prc-a's link (target <= 160 ms)"
	echo
	connect_header
	connect_times "lab prc x prc, 50 ms RTT" "$CONNECT_RUNS" "$LAB_SERVER" "$LABP-h-prc-b" "$LABP-h-prc-a"
	# baseline in the same run: a server that demands a cookie from every JOIN (one more RTT)
	NATLAB_SERVE_ARGS="--free-joins 0" "$NATLAB_SH" serve >/dev/null &&
		connect_times "same, server with --free-joins 0 (cookie round trip)" "$CONNECT_RUNS" \
		    "$LAB_SERVER" "$LABP-h-prc-b" "$LABP-h-prc-a"
	"$NATLAB_SH" serve >/dev/null
	"$NATLAB_SH" wanem prc-a off >/dev/null 2>&1
	echo
}

# ---------------------------------------------------------------- relay

bench_relay() {
	echo "## Relay through punchcat serve (server on one core), 1200-byte packets"
	echo
	scripts/bench-relay.sh "$RELAY_SECS" "$RUNS" >"$tmp/relay.out" 2>&1
	awk '
	/^relay (pps|MBps|Gbps)/ {r[$2] = $4; b[$2] = $7; q[$2] = $9}
	/^relaygso (pps|MBps|Gbps)/ {g[$2] = $4; gq[$2] = $9}
	/^server CPU per relayed packet/ {cpu[++nc] = $0}
	/^rendezvous_runs/ {rv = $0}
	/^rss_idle/ {rss = $0}
	/^relay_server_peak_rss/ {peak = $0}
	END {
		print "| figure | serve, plain senders (sendmmsg) | serve, GSO senders + GRO receiver | baseline forwarder (recvmmsg/sendmmsg, plain senders) | ratio plain / baseline | ratio GSO / baseline |"
		print "|---|---|---|---|---|---|"
		n = split("pps MBps Gbps", k, " ")
		for (i = 1; i <= n; i++) if (k[i] in r) printf "| relay %s | %s | %s | %s | %s | %s |\n", k[i], r[k[i]], g[k[i]], b[k[i]], q[k[i]], gq[k[i]]
		print ""
		for (i = 1; i <= nc; i++) print "- " cpu[i]
		if (rv != "") print "- " rv
		if (rss != "") print "- " rss
		if (peak != "") print "- " peak
	}' "$tmp/relay.out"
	grep -q '^relay Gbps' "$tmp/relay.out" || { echo "bench: bench-relay.sh failed:" >&2; tail -5 "$tmp/relay.out" >&2; }
	echo
}

[ -x "$PUNCHCAT" ] || make -s all tools >/dev/null || { echo "bench: no punchcat binary" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "bench: /usr/bin/time (GNU time) is not installed: needed for CPU and RSS" >&2; exit 1; }
have python3 "needed for timing" || exit 1
echo "# punchcat benchmarks, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo
for s in $sections; do
	case $s in
	loopback) bench_loopback ;;
	lab) bench_lab ;;
	connect) bench_connect_loopback; bench_connect_lab ;;
	relay) bench_relay ;;
	*) echo "bench: unknown section '$s' (loopback, lab, connect, relay)" >&2; exit 2 ;;
	esac
done
