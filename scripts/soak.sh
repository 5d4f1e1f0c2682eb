#!/usr/bin/env bash
# Soak: `punchcat serve` on loopback for SECONDS (default 600) under a mixed load, sampling its
# memory and file descriptors.
#
#   scripts/soak.sh [SECONDS]        (after `make all tools`; not part of make check)
#
# Load, all on 127.0.0.0/8 and bounded in time:
#   - PAIRS (default 4) concurrent pairs of real peers, each pair a fresh code, a random size
#     (1 KiB .. 8 MiB) each way, direct or --force-relay at random; every transfer is checked
#     byte for byte (sha256 both ways) and counted ok or failed;
#   - hostile datagrams (tests/tools/udpsend: random, short, wrong version, oversized, garbage)
#     from several source addresses 127.0.0.2 .. 127.0.0.9, a burst of 300 every ~0.5 s.
# Every STEP (default 5) seconds prints: time, serve's RSS (KiB), open fds, transfers ok/failed.
# The verdict compares the second half of the run with the first (after a warm-up): "flat" when
# RSS grew by less than max(10 %, 4 MiB) and fds by at most 4. Exits 0 when flat and no transfer
# failed, 1 otherwise.
set -u
cd "$(dirname "$0")/.." || exit 1
DURATION=${1:-600}
PAIRS=${PAIRS:-4}
STEP=${STEP:-5}
PUNCHCAT=${PUNCHCAT:-$PWD/punchcat}
UDPSEND=${UDPSEND:-$PWD/build/tests/tools/udpsend}
for f in "$PUNCHCAT" "$UDPSEND"; do
	[ -x "$f" ] || { echo "soak: $f missing: run make all tools" >&2; exit 1; }
done

W=$(mktemp -d)
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	[ -n "${SERVE_PID:-}" ] && kill "$SERVE_PID" 2>/dev/null
	wait 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

"$PUNCHCAT" serve -l 127.0.0.1:0 --allow-root --ip-rate 60000 --ip-burst 1000 \
	>"$W/serve.log" 2>&1 &
SERVE_PID=$!
for _ in $(seq 100); do
	grep -q 'listening on' "$W/serve.log" && break
	sleep 0.05
done
PORT=$(sed -n 's/.*listening on [^ ]*:\([0-9][0-9]*\).*/\1/p' "$W/serve.log" | head -1)
[ -n "$PORT" ] || { echo "soak: serve did not start" >&2; cat "$W/serve.log" >&2; exit 1; }
export PUNCHCAT_SERVER=127.0.0.1:$PORT
END=$((SECONDS + DURATION))
touch "$W/ok" "$W/failed"

# One pair: both directions at once, hashes compared; appends a line to ok or failed.
pair() {
	local id=$1 d="$W/pair$1" na nb mode=() rc_a rc_b
	mkdir -p "$d"
	na=$((1024 + RANDOM * 256 % (8 << 20))) nb=$((1024 + RANDOM * 64 % (2 << 20)))
	[ $((RANDOM % 2)) -eq 0 ] && mode=(--force-relay)
	head -c "$na" /dev/urandom >"$d/a.in"
	head -c "$nb" /dev/urandom >"$d/b.in"
	local code="$id-soak-$RANDOM-$RANDOM"
	timeout 120 "$PUNCHCAT" -q "${mode[@]}" "$code" <"$d/a.in" >"$d/a.out" 2>"$d/a.err" &
	local pa=$!
	timeout 120 "$PUNCHCAT" -q "${mode[@]}" "$code" <"$d/b.in" >"$d/b.out" 2>"$d/b.err" &
	local pb=$!
	wait "$pa"; rc_a=$?
	wait "$pb"; rc_b=$?
	if [ "$rc_a" -eq 0 ] && [ "$rc_b" -eq 0 ] && cmp -s "$d/a.in" "$d/b.out" &&
		cmp -s "$d/b.in" "$d/a.out"; then
		echo "$id $na $nb ${mode[*]:-direct}" >>"$W/ok"
	else
		echo "$id $na $nb ${mode[*]:-direct} rc=$rc_a/$rc_b $(tail -1 "$d/a.err") $(tail -1 "$d/b.err")" \
			>>"$W/failed"
	fi
	rm -rf "$d"
}

# A lane of pairs, one after the other, until the end.
lane() {
	local lane=$1 n=0
	while [ "$SECONDS" -lt "$END" ]; do
		pair $((lane * 10000 + n % 10000))
		n=$((n + 1))
	done
}

garbage() {
	local kinds=(random short version oversized garbage) i=0
	while [ "$SECONDS" -lt "$END" ]; do
		"$UDPSEND" -b "127.0.0.$((2 + i % 8))" -n 300 -k "${kinds[i % 5]}" \
			"127.0.0.1:$((PORT + i % 2))" >/dev/null 2>&1
		i=$((i + 1))
		sleep 0.5
	done
}

for l in $(seq 1 "$PAIRS"); do
	lane "$l" &
	PIDS+=($!)
done
garbage &
PIDS+=($!)

rss() { awk '/^VmRSS:/ {print $2}' "/proc/$SERVE_PID/status"; }
fds() { ls "/proc/$SERVE_PID/fd" | wc -l; }
count() { wc -l <"$1" | tr -d ' '; }

echo "soak: serve pid $SERVE_PID on 127.0.0.1:$PORT for ${DURATION}s, $PAIRS pair lanes + garbage"
printf '%6s %9s %4s %6s %6s\n' time rss_kib fds ok failed
T0=$SECONDS
samples=()
while [ "$SECONDS" -lt "$END" ]; do
	kill -0 "$SERVE_PID" 2>/dev/null || { echo "soak: serve died" >&2; exit 1; }
	t=$((SECONDS - T0)) r=$(rss) f=$(fds)
	samples+=("$t $r $f")
	printf '%6d %9d %4d %6d %6d\n' "$t" "$r" "$f" "$(count "$W/ok")" "$(count "$W/failed")"
	sleep "$STEP"
done
# let the last pairs finish (bounded by their own timeout)
for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
PIDS=()
t=$((SECONDS - T0)) r=$(rss) f=$(fds)
samples+=("$t $r $f")
printf '%6d %9d %4d %6d %6d\n' "$t" "$r" "$f" "$(count "$W/ok")" "$(count "$W/failed")"
ok=$(count "$W/ok") failed=$(count "$W/failed")
[ "$failed" -gt 0 ] && { echo "soak: failed transfers:"; head -20 "$W/failed"; }

# First half (after the first fifth as warm-up) against the second half: largest values.
verdict=$(printf '%s\n' "${samples[@]}" | awk -v n="${#samples[@]}" '
	{ t[NR] = $1; r[NR] = $2; f[NR] = $3 }
	END {
		w = int(n / 5) + 1; h = int((w + n) / 2)
		for (i = w; i <= n; i++) {
			if (i <= h) { if (r[i] > r1) r1 = r[i]; if (f[i] > f1) f1 = f[i] }
			else        { if (r[i] > r2) r2 = r[i]; if (f[i] > f2) f2 = f[i] }
		}
		lim = r1 * 0.10; if (lim < 4096) lim = 4096
		flat = (r2 - r1 <= lim) && (f2 - f1 <= 4)
		printf "%s rss %d -> %d KiB (max of each half), fds %d -> %d\n",
		    flat ? "flat" : "GROWING", r1, r2, f1, f2
	}')
echo "soak: $ok transfers ok, $failed failed; verdict: $verdict"
kill "$SERVE_PID" && wait "$SERVE_PID" 2>/dev/null
SERVE_PID=
echo "soak: serve's last words:"
tail -3 "$W/serve.log" | cut -c1-300
[ "$failed" -eq 0 ] && [[ "$verdict" == flat* ]]
