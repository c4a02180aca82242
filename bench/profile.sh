#!/usr/bin/env bash
# Profiles one peer the way docs/benchmarks.md explains its misses: user-space instructions
# (valgrind callgrind), system calls per lookup (strace -c) and the heap at peak with lookups in
# flight (valgrind massif). perf has no hardware counters on the development VM, hence valgrind.
#
#   bench/profile.sh [PEER]        PEER: stubborn (default), hickory-tuned, c-ares, glibc-tuned
#
# Needs valgrind and strace (Debian packages of those names). The server is the benchmark's own
# (`stubborn-bench serve`, faultdns on 127.0.0.1); nothing leaves the machine. Output: /tmp/bench-profile.*
set -euo pipefail
cd "$(dirname "$0")/.."
peer=${1:-stubborn}
out=/tmp/bench-profile
for tool in valgrind strace callgrind_annotate ms_print; do
  command -v "$tool" >/dev/null || { echo "profile: $tool is missing" >&2; exit 1; }
done
cargo build --release -p stubborn-bench >&2
bin=${CARGO_TARGET_DIR:-target}/release/stubborn-bench

fifo=$(mktemp -u /tmp/bench-profile-fifo.XXXXXX)
mkfifo "$fifo"
"$bin" serve --listen 127.0.0.1:0 --cpu 1 <"$fifo" >"$out.server" &
server=$!
exec 3>"$fifo"   # holds the server's stdin open; closing it stops the server
trap 'exec 3>&-; wait "$server" 2>/dev/null; rm -f "$fifo"' EXIT
echo '{"cmd":"rules","rules":["drop name=*.drop.bench.test."]}' >&3
for _ in $(seq 50); do [ -s "$out.server" ] && break; sleep 0.1; done
addr=$(head -1 "$out.server" | sed 's/.*"addr":"\([^"]*\)".*/\1/')
printf 'nameserver 127.0.0.1\n' >"$out.resolv.conf"

job() { # KIND-JSON TAG
  printf '{"peer":"%s","scenario":%s,"server":"%s","resolv_conf":"%s","tag":"%s"}' \
    "$peer" "$1" "$addr" "$out.resolv.conf" "$2"
}
throughput='{"kind":"throughput","concurrency":64,"duration":3000}'
memory='{"kind":"memory","concurrent":1000}'

echo "== $peer, throughput c=64 for 3 s, no profiler (pinned to CPU 0)"
taskset -c 0 "$bin" worker --job "$(job "$throughput" plain)"
echo "== system calls during 2 s of c=64 (strace -c -f)"
taskset -c 0 strace -c -f -o "$out.strace" "$bin" worker --job "$(job "${throughput/3000/2000}" strace)" >/dev/null
head -14 "$out.strace"
echo "== user-space instructions, c=64 (callgrind; kernel time is not counted)"
taskset -c 0 valgrind --tool=callgrind --callgrind-out-file="$out.callgrind" \
  "$bin" worker --job "$(job "$throughput" callgrind)" 2>/dev/null
callgrind_annotate "$out.callgrind" 2>/dev/null | sed -n '/PROGRAM TOTALS/,+16p'
echo "== heap at peak with 1,000 lookups in flight against a dropping server (massif)"
taskset -c 0 valgrind --tool=massif --depth=40 --massif-out-file="$out.massif" \
  "$bin" worker --job "$(job "$memory" massif)" 2>/dev/null
ms_print "$out.massif" >"$out.massif.txt" 2>/dev/null
sed -n '/(peak)/,$p' "$out.massif.txt" | grep -E '^\s*->|^\|' | grep -E 'stubborn::|task::core::Cell<|registration_set|hickory|c_ares|getaddrinfo' \
  | sed -E 's/^[ |]*->//' | awk '!seen[$0]++' | head -25
echo "(full profiles: $out.callgrind, $out.massif.txt, $out.strace)"
