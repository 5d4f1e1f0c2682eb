#!/usr/bin/env bash
# NAT lab: real Linux NATs in network namespaces, for punchcat's end-to-end tests.
#
# Topology (all inside namespaces named PREFIX-*, PREFIX = nl<pid of `up`>; no veth end is left
# in the root namespace and nothing outside the namespaces is touched):
#   wan         a bridge, 203.0.113.0/24 (the "internet"); no addresses of its own
#   rv          rendezvous host 203.0.113.10 (and .9, a second address for filtering probes)
#   KIND-S      one side of kind KIND (S = a, b, c, ...): host h-KIND-S behind its router(s)
#     public    host on the WAN, no NAT, no firewall
#     fw        stateful firewall, public address from 198.51.100.0/24, no NAT
#     cone      endpoint-independent mapping and filtering (masquerade plus a dynamic map that
#               DNATs every inbound UDP datagram to the host owning the mapped port)
#     prc       Linux masquerade: endpoint-independent mapping, address-and-port-dependent filtering
#     sym       masquerade random,fully-random: a random external port per destination
#     cgnat     prc behind prc, 100.64.0.0/10 between the two
#     udpblock  prc that drops all UDP except to the rendezvous server's ports
#   samelan     two hosts (h-samelan-a, h-samelan-b) behind one prc router, no hairpinning
#   hairpin     the same with hairpinning (datagrams to the router's public mapped ports loop back)
# Every router drops unsolicited input from its WAN interface (after accepting established and
# related flows), as home routers do: otherwise an early probe would create a confirmed conntrack
# entry and the later outbound mapping would get another port.
#
# Usage: scripts/natlab.sh COMMAND ...   (as root; needs ip, nft, conntrack, ethtool)
#   up [SIDE...]          build a lab (default: every kind with sides a and b, samelan, hairpin;
#                         SIDE is KIND-S or samelan/hairpin); prints NATLAB=DIR (export it)
#   down                  kill what runs in the lab's namespaces, delete them, remove DIR
#   run [SIDE...] -- CMD  up, run CMD with NATLAB set, down (on every exit path)
#   exec SIDE CMD...      run CMD in a side's host namespace (SIDE: KIND-S, rv, or a router:
#                         r-KIND-S, c-KIND-S for the CGN of cgnat, r-samelan, r-hairpin)
#   flush [SIDE...]       flush conntrack in the routers of the sides (default: all routers)
#   wanem SIDE ARGS...    put the WAN emulator on SIDE's WAN link ("a to b" = side to WAN),
#                         e.g. `wanem prc-a delay 20 loss 2`; `wanem SIDE off` removes it
#   serve                 (re)start `punchcat serve` on rv (203.0.113.10:7430, discovery 7431)
#   pair SIDE1 SIDE2 [KB] one punchcat transfer between the two hosts (KB each way, default
#                         1024): prints "pair S1 S2 rc R1 R2 path KIND ADDR connect_ms N MBps X
#                         sha ok|bad dir DIR/pair.N" (the logs). The data is held back until a
#                         direct path is up or PAIR_HOLD seconds pass (default 25, or 1 where
#                         only the relay can work). connect_ms: from the start to the first
#                         path line of the final kind; MBps: one direction's data over the
#                         time from its release to the end
#   wanem-bench           UDP throughput public-a -> public-b without and through wanem at 200mbit
#   matrix [KB]           up (unless NATLAB is set), a transfer for every pair of kinds (KB each
#                         way, default 4096), a table of pair, path, connect ms, MB/s, result
#                         (ok = both exit 0, data intact, the expected path)
# Environment: PUNCHCAT (binary, default ./punchcat), BUILD (default ./build, for the tools),
# NATLAB (state directory of a lab that is up).

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PUNCHCAT=${PUNCHCAT:-$ROOT/punchcat}
BUILD=${BUILD:-$ROOT/build}
KINDS="public fw cone prc sym cgnat udpblock"
RV_IP=203.0.113.10
RV_IP2=203.0.113.9
PORT=7430

die() {
	echo "natlab: $*" >&2
	exit 1
}

kind_index() {
	case $1 in
	public) echo 1 ;; fw) echo 2 ;; cone) echo 3 ;; prc) echo 4 ;; sym) echo 5 ;;
	cgnat) echo 6 ;; udpblock) echo 7 ;; samelan) echo 8 ;; hairpin) echo 9 ;;
	*) return 1 ;;
	esac
}

# side_parse KIND-S: sets KIND, SL (letter), SI (1 for a, 2 for b, ...), KI (kind index).
side_parse() {
	KIND=${1%-*} SL=${1##*-}
	case $1 in samelan | hairpin) KIND=$1 SL=x ;; esac
	KI=$(kind_index "$KIND") || die "unknown kind in side '$1' (kinds: $KINDS samelan hairpin)"
	case $SL in [a-i]) SI=$(($(printf '%d' "'$SL") - 96)) ;; x) SI=1 ;;
	*) die "bad side '$1' (KIND-a ... KIND-i)" ;; esac
}

wan_ip() { echo "203.0.113.$((10 * KI + SI))"; }

load_state() {
	[ -f "${NATLAB:-}/prefix" ] || die "no lab is up (set NATLAB, see 'up')"
	P=$(cat "$NATLAB/prefix")
}

nsname() { echo "$P-$1"; }
nsx() {
	local n=$1
	shift
	ip netns exec "$P-$n" "$@"
}

# ---- building blocks ----

mk_ns() { # NAME [router]
	ip netns add "$P-$1" || die "cannot create namespace $P-$1"
	echo "$1" >>"$NATLAB/nodes"
	ip -n "$P-$1" link set lo up
	local fwd=0
	[ "${2:-}" = router ] && fwd=1
	nsx "$1" sysctl -q -w net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 \
		net.ipv4.ip_forward=$fwd net.ipv4.conf.all.rp_filter=0 \
		net.ipv4.conf.default.rp_filter=0 >/dev/null
	[ "${2:-}" = router ] && echo "$1" >>"$NATLAB/routers"
	return 0
}

# link NS1 IF1 NS2 IF2: a veth pair between two lab namespaces, checksum offload off on both
# ends (a userspace forwarder would otherwise pass on frames with unfinished checksums).
link() {
	ip -n "$P-$1" link add "$2" type veth peer name "$4" netns "$P-$3" ||
		die "cannot create veth $1/$2 - $3/$4"
	nsx "$1" ethtool -K "$2" tx off >/dev/null 2>&1
	nsx "$3" ethtool -K "$4" tx off >/dev/null 2>&1
	ip -n "$P-$1" link set "$2" up
	ip -n "$P-$3" link set "$4" up
}

# wan_attach NODE IF IP: plugs NODE into the WAN bridge through w-ID.
wan_attach() {
	link wan "w-$ID" "$1" "$2"
	ip -n "$P-wan" link set "w-$ID" master br0
	ip -n "$P-$1" addr add "$3/24" dev "$2"
	echo "$1" >>"$NATLAB/wannodes"
}

# router_rules NODE WANIP EXTRA_FORWARD EXTRA_TABLE POST PRE: nftables for a router.
router_rules() {
	nsx "$1" nft -f - <<EOF || die "nft failed in $1"
table ip natlab {
	$4
	chain input {
		type filter hook input priority 0; policy accept;
		ct state established,related accept
		iifname "wan0" counter drop
	}
	chain forward {
		type filter hook forward priority 0; policy accept;
		$3
		ct state established,related accept
		iifname "wan0" counter drop
	}
	chain post {
		type nat hook postrouting priority 100; policy accept;
		$5
	}
	chain pre {
		type nat hook prerouting priority -100; policy accept;
		$6
	}
}
EOF
}

# lan_router NODE LANIF HOSTNODE HOSTIP/ROUTERIP prefix: router with a single host on its LAN.
lan_host() { # ROUTER HOST NET (e.g. 10.4.1): router .1, host .2
	link "$1" lan0 "$2" eth0
	ip -n "$P-$1" addr add "$3.1/24" dev lan0
	ip -n "$P-$2" addr add "$3.2/24" dev eth0
	ip -n "$P-$2" route add default via "$3.1"
}

CONE_MAP='map portmap { type inet_service : ipv4_addr; flags dynamic,timeout; timeout 180s; }'
CONE_LEARN='iifname "lan0" oifname "wan0" meta l4proto udp update @portmap { udp sport : ip saddr }'

build_side() { # KIND-S
	side_parse "$1"
	ID=$1
	local w
	w=$(wan_ip)
	echo "$1" >>"$NATLAB/sides"
	case $KIND in
	public)
		mk_ns "h-$ID"
		wan_attach "h-$ID" eth0 "$w"
		;;
	fw)
		local base=$((16 * (SI - 1)))
		mk_ns "r-$ID" router
		mk_ns "h-$ID"
		wan_attach "r-$ID" wan0 "$w"
		link "r-$ID" lan0 "h-$ID" eth0
		ip -n "$P-r-$ID" addr add "198.51.100.$((base + 1))/28" dev lan0
		ip -n "$P-h-$ID" addr add "198.51.100.$((base + 2))/28" dev eth0
		ip -n "$P-h-$ID" route add default via "198.51.100.$((base + 1))"
		echo "198.51.100.$base/28 via $w" >>"$NATLAB/fwroutes"
		router_rules "r-$ID" "$w" "" "" "" ""
		;;
	cone | prc | sym | udpblock)
		mk_ns "r-$ID" router
		mk_ns "h-$ID"
		wan_attach "r-$ID" wan0 "$w"
		lan_host "r-$ID" "h-$ID" "10.$KI.$SI"
		case $KIND in
		cone)
			router_rules "r-$ID" "$w" "$CONE_LEARN
		iifname \"wan0\" ct status dnat accept" "$CONE_MAP" 'oifname "wan0" masquerade' \
				'iifname "wan0" meta l4proto udp dnat to udp dport map @portmap'
			;;
		prc) router_rules "r-$ID" "$w" "" "" 'oifname "wan0" masquerade' "" ;;
		sym)
			router_rules "r-$ID" "$w" "" "" 'oifname "wan0" masquerade random,fully-random' ""
			;;
		udpblock)
			router_rules "r-$ID" "$w" "iifname \"lan0\" ip daddr $RV_IP udp dport { $PORT, $((PORT + 1)) } accept
		iifname \"lan0\" meta l4proto udp counter drop" "" 'oifname "wan0" masquerade' ""
			;;
		esac
		;;
	cgnat)
		# host -- home router (prc) -- 100.64.S.0/24 -- carrier NAT (prc) -- WAN
		mk_ns "c-$ID" router
		mk_ns "r-$ID" router
		mk_ns "h-$ID"
		wan_attach "c-$ID" wan0 "$w"
		link "c-$ID" lan0 "r-$ID" wan0
		ip -n "$P-c-$ID" addr add "100.64.$SI.1/24" dev lan0
		ip -n "$P-r-$ID" addr add "100.64.$SI.2/24" dev wan0
		ip -n "$P-r-$ID" route add default via "100.64.$SI.1"
		lan_host "r-$ID" "h-$ID" "10.$KI.$SI"
		router_rules "c-$ID" "$w" "" "" 'oifname "wan0" masquerade' ""
		router_rules "r-$ID" "100.64.$SI.2" "" "" 'oifname "wan0" masquerade' ""
		;;
	samelan | hairpin)
		# Two hosts on one LAN (a bridge named lan0 in the router).
		local r="r-$KIND" net="10.$KI.1"
		mk_ns "$r" router
		mk_ns "h-$KIND-a"
		mk_ns "h-$KIND-b"
		ID=$KIND
		wan_attach "$r" wan0 "$w"
		ip -n "$P-$r" link add lan0 type bridge
		ip -n "$P-$r" link set lan0 up
		ip -n "$P-$r" addr add "$net.1/24" dev lan0
		local h n=2
		for h in a b; do
			link "$r" "lan-$h" "h-$KIND-$h" eth0
			ip -n "$P-$r" link set "lan-$h" master lan0
			ip -n "$P-h-$KIND-$h" addr add "$net.$n/24" dev eth0
			ip -n "$P-h-$KIND-$h" route add default via "$net.1"
			n=$((n + 1))
		done
		if [ "$KIND" = samelan ]; then
			router_rules "$r" "$w" "" "" 'oifname "wan0" masquerade' ""
		else
			# Hairpinning: a datagram from the LAN to a public mapped port goes to the host
			# that owns the mapping, with the sender's public address as its source.
			router_rules "$r" "$w" "$CONE_LEARN" "$CONE_MAP" "oifname \"wan0\" masquerade
		ip saddr $net.0/24 oifname \"lan0\" ct status dnat snat to $w" \
				"iifname \"lan0\" ip daddr $w meta l4proto udp dnat to udp dport map @portmap"
		fi
		;;
	esac
}

# The machine's own subnets must not overlap the lab's: the lab never routes to them, but an
# overlap would make addresses ambiguous.
LAB_NETS="203.0.113.0/24 198.51.100.0/24 100.64.0.0/16 10.1.0.0/16 10.2.0.0/16 10.3.0.0/16
10.4.0.0/16 10.5.0.0/16 10.6.0.0/16 10.7.0.0/16 10.8.0.0/16 10.9.0.0/16"
ip2int() {
	local IFS=. a b c d
	read -r a b c d <<<"$1"
	echo $(((a << 24) | (b << 16) | (c << 8) | d))
}
overlaps() { # CIDR CIDR
	local m=${1#*/} n=${2#*/} x y mask
	[ "$n" -lt "$m" ] && m=$n
	mask=$(((0xffffffff << (32 - m)) & 0xffffffff))
	x=$(ip2int "${1%/*}")
	y=$(ip2int "${2%/*}")
	[ $((x & mask)) -eq $((y & mask)) ]
}
check_subnets() {
	local a l
	for a in $(ip -br -4 addr | awk '{for (i = 3; i <= NF; i++) print $i}'); do
		case $a in 127.*) continue ;; */*) ;; *) a="$a/32" ;; esac
		for l in $LAB_NETS; do
			overlaps "$a" "$l" && die "refusing: this machine's address $a overlaps the lab's $l"
		done
	done
	return 0
}

# ---- commands ----

cmd_up() {
	[ "$(id -u)" -eq 0 ] || die "must run as root"
	local t
	for t in ip nft conntrack ethtool; do
		command -v "$t" >/dev/null || die "'$t' is not installed (scripts/deps.sh installs it)"
	done
	check_subnets
	local sides=("$@")
	if [ ${#sides[@]} -eq 0 ] || [ "${sides[0]}" = all ]; then
		local rest=("${sides[@]:1}") k
		sides=()
		for k in $KINDS; do sides+=("$k-a" "$k-b"); done
		sides+=(samelan hairpin "${rest[@]}")
	fi
	NATLAB=$(mktemp -d /tmp/natlab.XXXXXX) || die "mktemp failed"
	export NATLAB
	P="nl$$"
	echo "$P" >"$NATLAB/prefix"
	local f
	for f in nodes routers wannodes fwroutes sides; do : >"$NATLAB/$f"; done
	echo 100 >"$NATLAB/nameplate"
	# Anything failing from here on takes the half-built lab down.
	trap 'cmd_down >/dev/null 2>&1' EXIT
	mk_ns wan
	ip -n "$P-wan" link add br0 type bridge
	ip -n "$P-wan" link set br0 up
	mk_ns rv
	ID=rv
	wan_attach rv eth0 "$RV_IP"
	ip -n "$P-rv" addr add "$RV_IP2/24" dev eth0
	local s
	for s in "${sides[@]}"; do build_side "$s"; done
	# Every WAN node reaches the firewalled public subnets through their routers.
	local node route
	while read -r route; do
		for node in $(cat "$NATLAB/wannodes"); do
			# shellcheck disable=SC2086
			ip -n "$P-$node" route add $route 2>/dev/null
		done
	done <"$NATLAB/fwroutes"
	trap - EXIT
	echo "NATLAB=$NATLAB"
}

cmd_down() {
	load_state
	local n pids
	# Stop every process running in the lab (all were started by the lab's users), then
	# delete the namespaces; their veths go with them.
	for n in $(cat "$NATLAB/nodes"); do
		pids=$(ip netns pids "$P-$n" 2>/dev/null)
		# shellcheck disable=SC2086
		[ -n "$pids" ] && kill $pids 2>/dev/null
	done
	for n in $(cat "$NATLAB/nodes"); do
		pids=$(ip netns pids "$P-$n" 2>/dev/null)
		# shellcheck disable=SC2086
		[ -n "$pids" ] && sleep 0.2 && kill -9 $pids 2>/dev/null
		ip netns del "$P-$n" 2>/dev/null
	done
	rm -rf "$NATLAB"
}

cmd_run() {
	local sides=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		sides+=("$1")
		shift
	done
	[ "${1:-}" = -- ] && shift
	[ $# -gt 0 ] || die "run: no command (run [SIDE...] -- CMD...)"
	cmd_up "${sides[@]}" >/dev/null || exit 1
	trap 'cmd_down' EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	"$@"
}

# node_of SIDE: the namespace (without prefix) that `exec SIDE` runs in.
node_of() {
	case $1 in
	rv | wan | r-* | c-* | h-*) echo "$1" ;;
	*) echo "h-$1" ;;
	esac
}

cmd_exec() {
	load_state
	[ $# -ge 2 ] || die "exec SIDE CMD..."
	local n
	n=$(node_of "$1")
	shift
	grep -qx "$n" "$NATLAB/nodes" || die "no node '$n' in this lab"
	exec ip netns exec "$P-$n" "$@"
}

# routers_of SIDE: the router namespaces on the path of a side.
routers_of() {
	case $1 in
	samelan* | hairpin*) echo "r-${1%%-*}" ;;
	cgnat-*) echo "r-$1 c-$1" ;;
	public-*) ;;
	*) echo "r-$1" ;;
	esac
}

cmd_flush() {
	load_state
	local r list=""
	if [ $# -eq 0 ]; then
		list=$(cat "$NATLAB/routers")
	else
		for r in "$@"; do list="$list $(routers_of "$r")"; done
	fi
	for r in $list; do nsx "$r" conntrack -F >/dev/null 2>&1; done
	return 0
}

cmd_wanem() {
	load_state
	[ $# -ge 2 ] || die "wanem SIDE (off | PARAMS...)"
	local side=$1 pidf
	shift
	side_parse "$side"
	case $side in samelan* | hairpin*) side=$KIND ;; esac
	pidf="$NATLAB/wanem.$side.pid"
	local log="$NATLAB/wanem.$side.log"
	if [ -f "$pidf" ]; then
		# Once it has printed its statistics it forwards no more; closing its packet
		# sockets can take the kernel a second or two more, which we need not wait for.
		kill "$(cat "$pidf")" 2>/dev/null
		for _ in $(seq 100); do
			grep -q '^wanem: ba:' "$log" 2>/dev/null && break
			kill -0 "$(cat "$pidf")" 2>/dev/null || break
			sleep 0.02
		done
		cat "$log" >>"$NATLAB/wanem.$side.history"
		rm -f "$pidf"
	fi
	if [ "$1" = off ]; then
		ip -n "$P-wan" link set "w-$side" master br0
		return 0
	fi
	[ -x "$BUILD/tests/tools/wanem" ] || die "no $BUILD/tests/tools/wanem (make tools)"
	# The emulator sits between the side's link w-SIDE and a second pair x-SIDE/y-SIDE that
	# takes its place on the bridge.
	if ! ip -n "$P-wan" link show "x-$side" >/dev/null 2>&1; then
		link wan "x-$side" wan "y-$side"
		ip -n "$P-wan" link set "y-$side" master br0
	fi
	ip -n "$P-wan" link set "w-$side" nomaster
	ip netns exec "$P-wan" "$BUILD/tests/tools/wanem" "w-$side" "x-$side" "$@" 2>"$log" &
	echo $! >"$pidf"
	for _ in $(seq 100); do
		grep -q 'wanem: ready' "$log" && return 0
		kill -0 "$(cat "$pidf")" 2>/dev/null || break
		sleep 0.05
	done
	cat "$log" >&2
	ip -n "$P-wan" link set "w-$side" master br0
	die "wanem did not start"
}

cmd_serve() {
	load_state
	local pidf="$NATLAB/serve.pid"
	if [ -f "$pidf" ]; then
		kill "$(cat "$pidf")" 2>/dev/null
		for _ in $(seq 50); do kill -0 "$(cat "$pidf")" 2>/dev/null || break; sleep 0.05; done
	fi
	[ -x "$PUNCHCAT" ] || die "no punchcat binary at $PUNCHCAT"
	# The lab's hosts join far more often than people do: lift the per-IP join rate if the
	# server has that limit.
	local extra=""
	"$PUNCHCAT" serve --help 2>/dev/null | grep -q -- --ip-burst && extra="--ip-rate 6000 --ip-burst 1000"
	# shellcheck disable=SC2086
	ip netns exec "$P-rv" "$PUNCHCAT" serve --allow-root -v -l "$RV_IP:$PORT" $extra \
		${NATLAB_SERVE_ARGS:-} \
		</dev/null >>"$NATLAB/serve.log" 2>&1 &
	echo $! >"$pidf"
	for _ in $(seq 100); do
		nsx rv ss -Hlun "sport = :$PORT" 2>/dev/null | grep -q . && return 0
		kill -0 "$(cat "$pidf")" 2>/dev/null || break
		sleep 0.05
	done
	tail -5 "$NATLAB/serve.log" >&2
	die "punchcat serve did not start"
}

# ensure_serve: (re)starts the server unless it listens (a killed one may linger as a zombie,
# which kill -0 cannot tell from a live process).
ensure_serve() {
	nsx rv ss -Hlun "sport = :$PORT" 2>/dev/null | grep -q . || cmd_serve
}

# stamp: prefixes each line with the wall clock in seconds (microsecond resolution).
stamp() {
	local l
	while IFS= read -r l; do printf '%s %s\n' "$EPOCHREALTIME" "$l"; done
}

next_nameplate() {
	local n
	n=$(($(cat "$NATLAB/nameplate") + 1))
	echo "$n" >"$NATLAB/nameplate"
	echo "$n"
}

# start_peer DIR NAME SIDE CODE [ARGS...]: starts one peer in the background; stdin from
# DIR/NAME.in, stdout to DIR/NAME.out, time-stamped stderr to DIR/NAME.err, status in
# DIR/NAME.rc when it ends; its pid (the shell around it) in DIR/NAME.pid.
start_peer() {
	local d=$1 name=$2 node code=$4
	node=$(node_of "$3")
	shift 4
	(
		PUNCHCAT_CODE=$code ip netns exec "$P-$node" timeout -k 5 "${PEER_TIMEOUT:-60}" \
			"$PUNCHCAT" -v -s "$RV_IP:$PORT" "$@" <"$d/$name.in" 2>&1 >"$d/$name.out" |
			stamp >"$d/$name.err"
		echo "${PIPESTATUS[0]}" >"$d/$name.rc"
	) &
	echo $! >"$d/$name.pid"
}

# peer_pid DIR NAME: the pid of the punchcat process itself (for fault tests).
peer_pid() {
	local sh
	sh=$(cat "$1/$2.pid")
	pgrep -f -P "$(pgrep -P "$sh" -x timeout | head -1)" "$PUNCHCAT" 2>/dev/null | head -1
}

# final_path FILE: "direct ADDR" / "relay ADDR" of the last path line, or "none".
final_path() {
	local l
	l=$(grep -E 'punchcat: path: (direct|relay) ' "$1" | tail -1)
	[ -n "$l" ] || { echo none; return; }
	l=${l#*punchcat: path: }
	echo "$l"
}

# connect_ms FILE T0 KIND: ms from T0 to the first path line of KIND.
connect_ms() {
	local t
	t=$(grep -E "punchcat: path: $3 " "$1" | head -1 | cut -d' ' -f1)
	[ -n "$t" ] || { echo -; return; }
	awk -v a="$2" -v b="$t" 'BEGIN { printf "%d", (b - a) * 1000 }'
}

# expected_path SIDE1 SIDE2: the path punchcat must end on: relay where no direct path can exist
# (UDP blocked, or a random port per destination on both sides), direct everywhere else.
expected_path() {
	case "$1 $2" in
	*udpblock*) echo relay ;;
	sym-*" "sym-*) echo relay ;;
	*) echo direct ;;
	esac
}

# hold_then_send DIR: once both sides report a direct path, or after HOLD seconds, feeds both
# peers their data (a.data, b.data) through their fifos and notes the time in DIR/released.
# Holding keeps the connection alive long enough for the final path to be found (a birthday
# search takes seconds; 1 MB over the relay takes milliseconds).
hold_then_send() {
	local d=$1 end
	# Open both fifos at once: a peer's shell cannot start it before its stdin is open.
	exec 3>"$d/a.in" 4>"$d/b.in"
	end=$(awk -v t="$EPOCHREALTIME" -v h="$HOLD" 'BEGIN { printf "%d", t + h }')
	while [ "${EPOCHREALTIME%.*}" -lt "$end" ]; do
		grep -q 'punchcat: path: direct' "$d/a.err" 2>/dev/null &&
			grep -q 'punchcat: path: direct' "$d/b.err" 2>/dev/null && break
		[ -f "$d/a.rc" ] && [ -f "$d/b.rc" ] && break
		sleep 0.02
	done
	echo "$EPOCHREALTIME" >"$d/released"
	cat "$d/a.data" >&3 &
	cat "$d/b.data" >&4
	wait
	exec 3>&- 4>&-
}

cmd_pair() {
	load_state
	[ $# -ge 2 ] || die "pair SIDE1 SIDE2 [KB]"
	local s1=$1 s2=$2 kb=${3:-1024} d n code t0 t1 HOLD=${PAIR_HOLD:-}
	# Long enough for a birthday search where a direct path is possible; 1 s elsewhere.
	if [ -z "$HOLD" ]; then
		HOLD=25
		[ "$(expected_path "$s1" "$s2")" = relay ] && HOLD=1
	fi
	ensure_serve
	cmd_flush "$s1" "$s2"
	n=$(next_nameplate)
	d="$NATLAB/pair.$n"
	mkdir -p "$d"
	code="$n-natlab-pair"
	head -c $((kb * 1024)) /dev/urandom >"$d/a.data"
	head -c $((kb * 1024)) /dev/urandom >"$d/b.data"
	mkfifo "$d/a.in" "$d/b.in"
	t0=$EPOCHREALTIME
	# shellcheck disable=SC2086
	start_peer "$d" a "$s1" "$code" ${PEER_ARGS:-}
	# shellcheck disable=SC2086
	start_peer "$d" b "$s2" "$code" ${PEER_ARGS:-}
	# The writers are bounded too: a peer that died early leaves its fifo without reader.
	timeout $((HOLD + 60)) bash -c "$(declare -f hold_then_send); HOLD=$HOLD hold_then_send '$d'" \
		2>/dev/null &
	local writer=$!
	wait "$(cat "$d/a.pid")" "$(cat "$d/b.pid")"
	t1=$EPOCHREALTIME
	# A peer that exited before reading its stdin leaves the writer blocked on the fifo;
	# timeout passes the signal on to its whole process group.
	kill "$writer" 2>/dev/null
	wait "$writer" 2>/dev/null
	local rca rcb pa pb kind addr cms sha=ok mbps t2
	rca=$(cat "$d/a.rc" 2>/dev/null || echo x)
	rcb=$(cat "$d/b.rc" 2>/dev/null || echo x)
	pa=$(final_path "$d/a.err")
	pb=$(final_path "$d/b.err")
	kind=${pa%% *} addr=${pa#* }
	[ "$kind" = none ] && addr=-
	# Both sides must agree on the kind of path.
	[ "${pb%% *}" = "$kind" ] || kind="$kind/${pb%% *}"
	cms=$(connect_ms "$d/a.err" "$t0" "${pa%% *}")
	[ "$(sha256sum <"$d/a.data")" = "$(sha256sum <"$d/b.out")" ] || sha=bad
	[ "$(sha256sum <"$d/b.data")" = "$(sha256sum <"$d/a.out")" ] || sha=bad
	t2=$(cat "$d/released" 2>/dev/null || echo "$t0")
	mbps=$(awk -v b=$((kb * 1024)) -v a="$t2" -v e="$t1" \
		'BEGIN { printf "%.1f", b / (e - a) / 1e6 }')
	echo "pair $s1 $s2 rc $rca $rcb path $kind $addr connect_ms $cms MBps $mbps sha $sha dir $d"
}

cmd_matrix() {
	local kb=${1:-4096} own=0
	if [ -z "${NATLAB:-}" ]; then
		cmd_up >/dev/null || exit 1
		own=1
		trap 'cmd_down' EXIT
	fi
	load_state
	printf '%-24s %-7s %-22s %10s %8s %s\n' pair path address "connect ms" "MB/s" result
	local k1 k2 seen="" line
	for k1 in $KINDS; do
		seen="$seen $k1"
		for k2 in $seen; do
			line=$(cmd_pair "$k1-a" "$k2-b" "$kb")
			print_row "$line"
		done
	done
	for k1 in samelan hairpin; do
		line=$(cmd_pair "$k1-a" "$k1-b" "$kb")
		print_row "$line"
	done
	[ "$own" = 1 ] && cmd_down
	trap - EXIT
	return 0
}

# wanem_bench: UDP from public-a to public-b, 60000 datagrams of 1200 bytes offered at 250
# Mbit/s, without wanem and through `wanem rate 200mbit` (three rounds, alternating). Needs a
# lab with public-a and public-b.
cmd_wanem_bench() {
	load_state
	local u="$BUILD/tests/tools/udpprobe" round
	one() {
		nsx h-public-b "$u" sink -t 1000 203.0.113.12:5000 >"$NATLAB/bench.sink" &
		local s=$! n=0
		until nsx h-public-b ss -Hlun "sport = :5000" | grep -q .; do
			n=$((n + 1))
			[ "$n" -lt 250 ] || die "the sink did not start"
			sleep 0.02
		done
		nsx h-public-a "$u" blast -n 60000 -r 250 203.0.113.12:5000 >/dev/null
		wait "$s"
		echo "$1: $(grep received "$NATLAB/bench.sink") (UDP payload)"
	}
	for round in 1 2 3; do
		one "round $round, direct link      "
		cmd_wanem public-a rate 200mbit limit 300000
		one "round $round, wanem rate 200mbit"
		cmd_wanem public-a off
	done
}

print_row() {
	# shellcheck disable=SC2086
	set -- $1
	local res=ok want
	want=$(expected_path "$2" "$3")
	[ "$5" = 0 ] && [ "$6" = 0 ] && [ "${15}" = ok ] && [ "$8" = "$want" ] ||
		res="FAIL (rc $5/$6, data ${15}, expected $want, logs ${17})"
	printf '%-24s %-7s %-22s %10s %8s %s\n' "$2 x $3" "$8" "$9" "${11}" "${13}" "$res"
}

# tests/natlab.bats sources this file for its functions.
[ "${BASH_SOURCE[0]}" != "$0" ] && return 0

set -u
cmd=${1:-}
[ $# -gt 0 ] && shift
case $cmd in
up) cmd_up "$@" ;;
down) cmd_down "$@" ;;
run) cmd_run "$@" ;;
exec) cmd_exec "$@" ;;
flush) cmd_flush "$@" ;;
wanem) cmd_wanem "$@" ;;
serve) cmd_serve "$@" ;;
pair) cmd_pair "$@" ;;
wanem-bench) cmd_wanem_bench "$@" ;;
matrix) cmd_matrix "$@" ;;
*) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0" >&2; exit 2 ;;
esac
