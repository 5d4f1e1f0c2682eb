#!/usr/bin/env bash
# punchcat benchmarks against the tools people would otherwise use, all measured in this run.
# Prints a markdown table per section with medians of RUNS runs and the ratio to each baseline.
#   scripts/bench.sh [loopback] [lab] [connect] [relay]     (default: all sections)
# Environment: RUNS (default 3), SIZE_MB (loopback transfer, default 2048), PUNCHCAT.
# Installs nothing: a missing tool is reported and its rows are skipped.
set -u
cd "$(dirname "$0")/.." || exit 1
PUNCHCAT=${PUNCHCAT:-$PWD/punchcat}
RUNS=${RUNS:-3}
SIZE_MB=${SIZE_MB:-2048}
sections=${*:-loopback lab connect relay}
tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

have() { command -v "$1" >/dev/null 2>&1 || { echo "bench: $1 is not installed: ${2:-skipped}" >&2; return 1; }; }
median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) print "n/a"; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
free_udp_port() { python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# wait_listen PORT: waits (at most 5 s) until a TCP socket listens on 127.0.0.1:PORT.
wait_listen() {
	local i
	for i in $(seq 100); do
		ss -Hltn "sport = :$1" | grep -q . && return 0
		sleep 0.05
	done
	echo "bench: nothing listens on port $1" >&2
	return 1
}

# xfer NAME RECV_CMD SEND_CMD [TCP_PORT]: one transfer of SIZE_MB MiB of zeros; appends
# "MBps send_cpu_s_per_GiB recv_cpu_s_per_GiB" to $tmp/NAME.
xfer() {
	local name=$1 recv=$2 send=$3 t0 t1 rt st
	/usr/bin/time -f '%U %S' -o "$tmp/recv.time" bash -c "$recv" &
	local rpid=$!
	if [ -n "${4:-}" ] && ! wait_listen "$4"; then kill "$rpid"; wait "$rpid"; return 1; fi
	t0=$(date +%s.%N)
	/usr/bin/time -f '%U %S' -o "$tmp/send.time" bash -c "head -c ${SIZE_MB}M /dev/zero | $send"
	wait "$rpid"
	t1=$(date +%s.%N)
	rt=$(awk '{print $1+$2}' "$tmp/recv.time")
	st=$(awk '{print $1+$2}' "$tmp/send.time")
	awk -v mb="$SIZE_MB" -v t0="$t0" -v t1="$t1" -v st="$st" -v rt="$rt" \
		'BEGIN {g=mb/1024; printf "%.1f %.2f %.2f\n", mb/(t1-t0), st/g, rt/g}' >>"$tmp/$name"
}

row() { # NAME LABEL BASE: prints a table row with medians and the ratio to BASE
	local f=$tmp/$1 mbps sc rc base
	[ -s "$f" ] || { echo "| $2 | n/a | | | |"; return; }
	mbps=$(cut -d' ' -f1 "$f" | median)
	sc=$(cut -d' ' -f2 "$f" | median)
	rc=$(cut -d' ' -f3 "$f" | median)
	base=$([ -s "$tmp/$3" ] && cut -d' ' -f1 "$tmp/$3" | median || echo 0)
	awk -v n="$2" -v m="$mbps" -v s="$sc" -v r="$rc" -v b="$base" \
		'BEGIN {printf "| %s | %.1f | %s | %s | %s |\n", n, m, s, r, (b>0 ? sprintf("%.2f", m/b) : "n/a")}'
}

bench_loopback() {
	local port code srv
	echo "## Loopback: ${SIZE_MB} MiB /dev/zero -> /dev/null, median of $RUNS"
	echo
	if have openssl "no TLS baseline" && have socat "no TLS baseline"; then
		openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=bench \
			-keyout "$tmp/key.pem" -out "$tmp/cert.pem" 2>/dev/null
	fi
	for _ in $(seq "$RUNS"); do
		port=$(free_port)
		have nc && xfer nc "nc -l 127.0.0.1 $port >/dev/null" "nc -N 127.0.0.1 $port" "$port"
		if [ -f "$tmp/cert.pem" ]; then
			port=$(free_port)
			xfer socat "socat -u OPENSSL-LISTEN:$port,bind=127.0.0.1,cert=$tmp/cert.pem,key=$tmp/key.pem,verify=0 - >/dev/null" \
				"socat -u - OPENSSL:127.0.0.1:$port,verify=0" "$port"
		fi
		if [ -x "$PUNCHCAT" ]; then
			port=$(free_udp_port)
			"$PUNCHCAT" serve -q -l 127.0.0.1:"$port" --allow-root 2>"$tmp/serve.log" &
			srv=$!
			pids+=("$srv")
			code="$RANDOM-bench-loopback-run"
			xfer punchcat "$PUNCHCAT -q -s 127.0.0.1:$port $code >/dev/null" \
				"$PUNCHCAT -q -s 127.0.0.1:$port $code"
			kill "$srv" 2>/dev/null
			wait "$srv" 2>/dev/null
		fi
	done
	echo "| tool | MB/s | sender CPU s/GiB | receiver CPU s/GiB | ratio to nc |"
	echo "|---|---|---|---|---|"
	row nc "nc (TCP, plaintext)" nc
	row socat "socat OPENSSL (TLS)" nc
	row punchcat "punchcat (direct, encrypted)" nc
	echo
}

for s in $sections; do
	case $s in
	loopback) bench_loopback ;;
	lab | connect | relay)
		if [ -x "scripts/bench-$s.sh" ]; then "scripts/bench-$s.sh"; else
			echo "## $s: scripts/bench-$s.sh is not there yet"; echo; fi ;;
	*) echo "bench: unknown section '$s' (loopback, lab, connect, relay)" >&2; exit 2 ;;
	esac
done
