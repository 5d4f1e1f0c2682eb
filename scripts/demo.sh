#!/usr/bin/env bash
# `make demo`: the real thing on one machine. Starts `punchcat serve` on loopback, a sending
# peer that asks for a code, and a receiving peer that uses it; sends a generated file,
# checks its SHA-256 on arrival and shows the path the data took. Cleans up after itself.
# Environment: PUNCHCAT (binary), DEMO_MB (file size, default 64).
set -u
cd "$(dirname "$0")/.." || exit 1
PUNCHCAT=${PUNCHCAT:-$PWD/punchcat}
DEMO_MB=${DEMO_MB:-64}
tmp=$(mktemp -d) || exit 1
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() { echo "demo: $*" >&2; for f in "$tmp"/*.log; do sed 's/^/    /' "$f" >&2; done; exit 1; }
# wait_for SECONDS CMD...: polls CMD every 50 ms.
wait_for() {
	local i
	for i in $(seq $(($1 * 20))); do "${@:2}" && return 0; sleep 0.05; done
	return 1
}

[ -x "$PUNCHCAT" ] || fail "no binary at $PUNCHCAT (run make)"
root=()
[ "$(id -u)" -eq 0 ] && root=(--allow-root)

echo "demo: starting punchcat serve on 127.0.0.1 (ephemeral port)"
"$PUNCHCAT" serve -l 127.0.0.1:0 "${root[@]}" 2>"$tmp/serve.log" &
pids+=($!)
wait_for 5 grep -q 'listening on' "$tmp/serve.log" || fail "the server did not start"
port=$(sed -n 's/.*listening on [^ ]*:\([0-9][0-9]*\).*/\1/p' "$tmp/serve.log" | head -1)
export PUNCHCAT_SERVER=127.0.0.1:$port
echo "demo: server at $PUNCHCAT_SERVER"

head -c "$((DEMO_MB << 20))" /dev/urandom >"$tmp/file" || fail "cannot make the test file"
want=$(sha256sum <"$tmp/file" | cut -d' ' -f1)
echo "demo: sending a ${DEMO_MB} MiB random file, sha256 $want"

"$PUNCHCAT" -v <"$tmp/file" 2>"$tmp/sender.log" &
pids+=($!)
wait_for 10 grep -q '^punchcat: code: ' "$tmp/sender.log" || fail "the sender printed no code"
code=$(sed -n 's/^punchcat: code: //p' "$tmp/sender.log")
echo "demo: sender:   punchcat -v < file            -> code $code"
echo "demo: receiver: punchcat -v $code > received"
start=$(date +%s.%N)
timeout 120 "$PUNCHCAT" -v "$code" </dev/null >"$tmp/received" 2>"$tmp/receiver.log"
rc=$?
end=$(date +%s.%N)
[ "$rc" -eq 0 ] || fail "the receiver exited with status $rc"
wait "${pids[1]}" || fail "the sender exited with status $?"
got=$(sha256sum <"$tmp/received" | cut -d' ' -f1)
echo "demo: receiver log:"
grep -E '^punchcat: (path|done):' "$tmp/receiver.log" | sed 's/^/    /'
[ "$got" = "$want" ] || fail "checksum mismatch: got $got"
awk -v s="$start" -v e="$end" -v mb="$DEMO_MB" \
	'BEGIN { printf "demo: OK: sha256 matches; %d MiB in %.2f s from the receiver'"'"'s start\n", mb, e - s }'
