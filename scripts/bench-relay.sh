#!/usr/bin/env bash
# Benchmarks of `punchcat serve` on loopback (issue 5). Prints figures, medians of RUNS runs:
#   - relay forwarding of 1200-byte packets (packets/s, MB/s, Gbit/s) and, in the same runs,
#     a trivial recvmmsg/sendmmsg UDP forwarder as the baseline, with the ratio relay/baseline;
#     once with plain senders (sendmmsg, one datagram per stack trip) and once with UDP GSO
#     senders and a UDP GRO receiver (as fast peers send), where the server is the limit;
#   - time to serve a rendezvous (two peers from first JOIN to GO);
#   - RSS with 100 000 waiting rooms and memory per waiting room.
# The server (and the baseline forwarder) is pinned to CPU 0 when possible, so "one core"
# holds for it; the senders and receivers run on the other CPUs. Limits are raised so they do not cap the figures.
# Usage: scripts/bench-relay.sh [SECONDS_PER_RUN] [RUNS]   (defaults 3 and 3)
set -eu
cd "$(dirname "$0")/.."
secs=${1:-3}
runs=${2:-3}
B=build/tests/tools/relaybench
[ -x "$B" ] && [ -x ./punchcat ] || make -s all tools >/dev/null
tmp=$(mktemp -d)
spid=""
cleanup() { [ -n "$spid" ] && kill "$spid" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

pin=""
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then pin="taskset -c 0"; fi
other=""
if [ -n "$pin" ]; then other="taskset -c 1-$(($(nproc) - 1))"; fi

stop_server() { kill "$spid"; wait "$spid" 2>/dev/null || true; spid=""; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
field() { tr ' ' '\n' | sed -n "s/^$1=//p"; }

start_server_v() {
	$pin ./punchcat serve --allow-root -l 127.0.0.1:0 "$@" 2>"$tmp/log" &
	spid=$!
	for _ in $(seq 100); do grep -q 'listening on' "$tmp/log" 2>/dev/null && break; sleep 0.05; done
	port=$(sed -n 's/^punchcat: listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$tmp/log")
}

echo "== relay forwarding, 1200-byte packets, ${secs}s x $runs runs (server on one core)"
start_server_v --relay-rate 1T --relay-burst 1G --global-relay-rate 1T --relay-quota 1000T \
	--ip-rate 1000000 --ip-burst 1000000
: >"$tmp/relay"
: >"$tmp/relaygso"
: >"$tmp/fwd"
gso_ticks=0
ticks0=$(awk '{print $14 + $15}' "/proc/$spid/stat")
for i in $(seq "$runs"); do
	# alternate the order so machine load hits both alike
	if [ $((i % 2)) -eq 1 ]; then
		$other "$B" relay "127.0.0.1:$port" "$secs" >>"$tmp/relay"
		$other "$B" forward "$secs" >>"$tmp/fwd"
	else
		$other "$B" forward "$secs" >>"$tmp/fwd"
		$other "$B" relay "127.0.0.1:$port" "$secs" >>"$tmp/relay"
	fi
	# senders with UDP GSO and a receiver with UDP GRO, as fast peers are: the load generator
	# stops being the limit
	g0=$(awk '{print $14 + $15}' "/proc/$spid/stat")
	$other "$B" relay-gso "127.0.0.1:$port" "$secs" >>"$tmp/relaygso"
	gso_ticks=$((gso_ticks + $(awk '{print $14 + $15}' "/proc/$spid/stat") - g0))
done
ticks1=$(awk '{print $14 + $15}' "/proc/$spid/stat")
kill -USR1 "$spid"
for _ in $(seq 100); do grep -q 'counters:' "$tmp/log" && break; sleep 0.05; done
relayed=$(grep 'counters:' "$tmp/log" | tail -1 | tr ' ' '\n' | sed -n 's/^relayed_packets=//p')
hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$spid/status")
stop_server
echo "relay_server_peak_rss_KiB=$hwm"
hz=$(getconf CLK_TCK)
gso_pkts=$(field relaygso_received <"$tmp/relaygso" | awk '{s += $1} END {print s + 0}')
awk -v t=$((ticks1 - ticks0 - gso_ticks)) -v hz="$hz" -v n="$((relayed - gso_pkts))" 'BEGIN {
	us = t * 1e6 / hz / (n > 0 ? n : 1)
	printf "server CPU per relayed packet (plain senders) %.2f us (%d packets): one core could relay %.0f pps = %.2f Gbit/s\n", us, n, 1e6 / us, 1e6 / us * 1200 * 8 / 1e9
}'
awk -v t="$gso_ticks" -v hz="$hz" -v n="$gso_pkts" 'BEGIN {
	us = t * 1e6 / hz / (n > 0 ? n : 1)
	printf "server CPU per relayed packet (GSO senders, GRO receive) %.2f us (%d packets): one core could relay %.0f pps = %.2f Gbit/s\n", us, n, 1e6 / us, 1e6 / us * 1200 * 8 / 1e9
}'
for k in pps MBps Gbps; do
	r=$(field "relay_$k" <"$tmp/relay" | median)
	g=$(field "relaygso_$k" <"$tmp/relaygso" | median)
	f=$(field "forward_$k" <"$tmp/fwd" | median)
	printf 'relay %-5s median %10s   baseline forwarder %10s   ratio %s\n' "$k" "$r" "$f" \
		"$(awk -v a="$r" -v b="$f" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}')"
	printf 'relaygso %-5s median %10s   baseline forwarder %10s   ratio %s\n' "$k" "$g" "$f" \
		"$(awk -v a="$g" -v b="$f" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}')"
done

echo "== time to serve a rendezvous (first JOIN to GO for both peers), 20 runs"
start_server_v --ip-rate 1000000 --ip-burst 1000000
$other "$B" rendezvous "127.0.0.1:$port" 20
stop_server

echo "== memory: 100000 waiting rooms"
start_server_v --ip-rate 1000000 --ip-burst 1000000 --max-rooms 100000
sleep 0.2
before=$(awk '/^VmRSS:/ {print $2}' "/proc/$spid/status")
$other "$B" rooms "127.0.0.1:$port" 100000
after=$(awk '/^VmRSS:/ {print $2}' "/proc/$spid/status")
stop_server
echo "rss_idle_KiB=$before rss_100k_rooms_KiB=$after" \
	"rss_100k_rooms_MiB=$(awk -v a="$after" 'BEGIN {printf "%.1f", a / 1024}')" \
	"bytes_per_waiting_room=$(awk -v a="$after" -v b="$before" 'BEGIN {printf "%.0f", (a - b) * 1024 / 100000}')"
