#!/bin/sh
# Installs what punchcat needs to build and test, when it is missing:
# a C compiler, make, pkg-config, libevent 2.1, libsodium >= 1.0.18, cmocka, bats, mandoc;
# for the NAT lab iproute2, nftables, conntrack, ethtool; clang and its libFuzzer runtime for the
# fuzzers; tcpdump for the secrets test; cppcheck and clang-tidy for make lint.
# Does nothing when all is present. Uses sudo when not root. Otherwise prints what to install
# and exits 1.  Usage: scripts/deps.sh [--check]   (--check: only report, never install)
set -u

missing_tools() {
	for t in cc make pkg-config bats mandoc ip nft conntrack ethtool clang tcpdump cppcheck \
		clang-tidy; do
		command -v "$t" >/dev/null 2>&1 || printf '%s ' "$t"
	done
	# clang without its runtime libraries cannot link the fuzzers
	if command -v clang >/dev/null 2>&1 && ! echo 'int LLVMFuzzerTestOneInput(void){return 0;}' |
		clang -x c -fsanitize=fuzzer -o /dev/null - >/dev/null 2>&1; then
		printf 'libfuzzer '
	fi
	for p in libevent libsodium cmocka; do
		pkg-config --exists "$p" 2>/dev/null || printf '%s ' "$p"
	done
	if pkg-config --exists libsodium 2>/dev/null &&
		! pkg-config --atleast-version=1.0.18 libsodium; then
		printf 'libsodium>=1.0.18 '
	fi
}

missing=$(missing_tools)
[ -z "$missing" ] && exit 0
echo "deps: missing: $missing"

if command -v apt-get >/dev/null 2>&1; then
	pkgs="build-essential pkg-config libevent-dev libsodium-dev libcmocka-dev bats mandoc iproute2 nftables conntrack ethtool clang libclang-rt-dev tcpdump cppcheck clang-tidy"
	update="apt-get update -qq"
	install="env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $pkgs"
elif command -v dnf >/dev/null 2>&1; then
	pkgs="gcc make pkgconf-pkg-config libevent-devel libsodium-devel libcmocka-devel bats mandoc iproute nftables conntrack-tools ethtool clang compiler-rt tcpdump cppcheck clang-tools-extra"
	update=true
	install="dnf install -y $pkgs"
elif command -v apk >/dev/null 2>&1; then
	pkgs="build-base pkgconf libevent-dev libsodium-dev cmocka-dev bats mandoc iproute2 nftables conntrack-tools ethtool clang compiler-rt tcpdump cppcheck clang-extra-tools"
	update=true
	install="apk add --no-cache $pkgs"
elif command -v brew >/dev/null 2>&1; then
	# macOS: no network namespaces, so the NAT lab is skipped there; tcpdump comes with the
	# system (the secrets test needs root and Linux /proc, so it skips there anyway).
	pkgs="pkg-config libevent libsodium cmocka bats-core mandoc cppcheck llvm"
	update=true
	install="brew install $pkgs"
else
	echo "deps: no known package manager; install: $missing" >&2
	exit 1
fi

if [ "${1:-}" = "--check" ]; then
	echo "deps: would run: $install" >&2
	exit 1
fi

if [ "$(id -u)" -eq 0 ] || command -v brew >/dev/null 2>&1; then
	sudo=""
elif command -v sudo >/dev/null 2>&1; then
	sudo="sudo"
else
	echo "deps: not root and no sudo; as root run: $install" >&2
	exit 1
fi

echo "deps: installing: $pkgs"
$sudo sh -c "$update" || { echo "deps: package index update failed" >&2; exit 1; }
$sudo $install || { echo "deps: install failed; run by hand: $install" >&2; exit 1; }
missing=$(missing_tools)
# The NAT lab tools are optional on macOS and in containers without them.
for opt in ip nft conntrack ethtool clang libfuzzer tcpdump cppcheck clang-tidy; do
	missing=$(printf '%s' "$missing" | sed "s/\\b$opt \\?//")
done
if [ -n "$(printf '%s' "$missing" | tr -d ' ')" ]; then
	echo "deps: still missing after install: $missing" >&2
	exit 1
fi
echo "deps: ok"
