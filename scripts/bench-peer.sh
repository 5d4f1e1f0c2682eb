#!/usr/bin/env bash
# Peer benchmarks on loopback, all baselines measured in this same run:
#   1. throughput: SIZE_MB MiB of /dev/zero -> /dev/null through punchcat (direct path) and
#      through nc over TCP, medians of RUNS runs each (interleaved), and their ratio;
#   2. connect time: from the second peer's start to its "path: direct" line, p50 and p95 over
#      CONNECT_RUNS runs (and to the first "path:" line, when data can start flowing);
#   3. peak RSS of each punchcat peer during the throughput runs.
# Environment: PUNCHCAT, RUNS (3), SIZE_MB (1024), CONNECT_RUNS (20).
set -u
cd "$(dirname "$0")/.." || exit 1
PUNCHCAT=${PUNCHCAT:-$PWD/punchcat}
MAXRSS=${MAXRSS:-$PWD/build/tests/tools/maxrss}
RUNS=${RUNS:-3}
SIZE_MB=${SIZE_MB:-1024}
CONNECT_RUNS=${CONNECT_RUNS:-20}
tmp=$(mktemp -d) || exit 1
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) print "n/a"; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
now() { date +%s.%N; }
wait_for() {
	local i
	for i in $(seq $(($1 * 100))); do "${@:2}" && return 0; sleep 0.01; done
	return 1
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

[ -x "$PUNCHCAT" ] || { echo "bench-peer: no binary at $PUNCHCAT (run make)" >&2; exit 1; }
[ -x "$MAXRSS" ] || make -s tools >/dev/null || exit 1
root=()
[ "$(id -u)" -eq 0 ] && root=(--allow-root)
# Many JOINs from one address in a minute: lift the per-IP limits of a public server.
"$PUNCHCAT" serve -l 127.0.0.1:0 --ip-rate 100000 --ip-burst 1000 "${root[@]}" \
	2>"$tmp/serve.log" &
pids+=($!)
wait_for 5 grep -q 'listening on' "$tmp/serve.log" || { echo "bench-peer: no server" >&2; exit 1; }
export PUNCHCAT_SERVER=127.0.0.1:$(sed -n 's/.*listening on [^ ]*:\([0-9][0-9]*\).*/\1/p' "$tmp/serve.log" | head -1)
n=0

# punchcat_run: one transfer; appends MB/s to $tmp/pc and the peak RSS (KiB) of each side.
punchcat_run() {
	local code t0 t1
	n=$((n + 1))
	code="$((500 + n))-bench-run"
	"$MAXRSS" "$tmp/rss.recv" "$PUNCHCAT" -w 30 -v "$code" </dev/null >/dev/null 2>"$tmp/recv.log" &
	local rpid=$!
	t0=$(now)
	head -c "${SIZE_MB}M" /dev/zero | "$MAXRSS" "$tmp/rss.send" "$PUNCHCAT" -w 30 -v "$code" \
		2>"$tmp/send.log"
	local src=${PIPESTATUS[1]} rrc=0
	wait "$rpid" || rrc=$?
	t1=$(now)
	if [ "$src" -ne 0 ] || [ "$rrc" -ne 0 ] ||
		! grep -q "received $((SIZE_MB << 20)) bytes" "$tmp/recv.log"; then
		echo "bench-peer: run $n failed (sender $src, receiver $rrc); not counted" >&2
		sed 's/^/    send: /' "$tmp/send.log" >&2
		sed 's/^/    recv: /' "$tmp/recv.log" >&2
		return 1
	fi
	if ! grep -q 'path: direct' "$tmp/send.log"; then
		echo "bench-peer: run $n did not go direct" >&2
	fi
	awk -v mb="$SIZE_MB" -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f\n", mb/(b-a)}' >>"$tmp/pc"
	cat "$tmp/rss.send" >>"$tmp/rss.s"
	cat "$tmp/rss.recv" >>"$tmp/rss.r"
}

nc_run() {
	local port t0 t1
	port=$(free_port)
	nc -l 127.0.0.1 "$port" >/dev/null &
	local rpid=$!
	for _ in $(seq 100); do ss -Hltn "sport = :$port" | grep -q . && break; sleep 0.01; done
	t0=$(now)
	head -c "${SIZE_MB}M" /dev/zero | nc -N 127.0.0.1 "$port"
	wait "$rpid"
	t1=$(now)
	awk -v mb="$SIZE_MB" -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f\n", mb/(b-a)}' >>"$tmp/nc"
}

have_nc=1
command -v nc >/dev/null || { have_nc=0; echo "bench-peer: nc is not installed: no TCP baseline" >&2; }
echo "== throughput: ${SIZE_MB} MiB /dev/zero -> /dev/null on loopback, $RUNS runs each (interleaved)"
for _ in $(seq "$RUNS"); do
	punchcat_run
	[ "$have_nc" -eq 1 ] && nc_run
done
pc=$(median <"$tmp/pc")
echo "punchcat direct: median $pc MB/s (runs: $(tr '\n' ' ' <"$tmp/pc"))"
if [ "$have_nc" -eq 1 ]; then
	ncm=$(median <"$tmp/nc")
	echo "nc over TCP:     median $ncm MB/s (runs: $(tr '\n' ' ' <"$tmp/nc"))"
	awk -v a="$pc" -v b="$ncm" 'BEGIN {printf "ratio punchcat/nc: %.2f\n", a/b}'
fi
echo "peak RSS: sender median $(median <"$tmp/rss.s") KiB, receiver median $(median <"$tmp/rss.r") KiB"

echo "== connect time: second peer's start -> its path lines, $CONNECT_RUNS runs"
# Timed in python: a fork of date(1) per line would cost more than what is measured.
python3 - "$PUNCHCAT" "$CONNECT_RUNS" <<'PY'
import subprocess, sys, time
pc, runs = sys.argv[1], int(sys.argv[2])
relay, direct = [], []
def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int((len(v) - 1) * p / 100 + 0.5))] if v else float("nan")
for i in range(runs):
    code = "%d-bench-connect" % (700 + i)
    first = subprocess.Popen([pc, "-w", "20", "-vv", code], stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    for line in first.stderr:		# the first peer waits in its room
        if "in room" in line:
            break
    t0 = time.monotonic()
    second = subprocess.Popen([pc, "-w", "20", "-v", code], stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    for line in second.stderr:
        ms = (time.monotonic() - t0) * 1000
        if "path: relay" in line and len(relay) == i:
            relay.append(ms)
        if "path: direct" in line and len(direct) == i:
            direct.append(ms)
    second.wait()
    first.stderr.read()
    first.wait()
print("to the first path line (data can flow): p50 %.1f ms, p95 %.1f ms (%d runs)"
      % (pct(relay, 50), pct(relay, 95), len(relay)))
print("to the direct path line:               p50 %.1f ms, p95 %.1f ms (%d runs)"
      % (pct(direct, 50), pct(direct, 95), len(direct)))
PY
