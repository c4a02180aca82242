#!/usr/bin/env bash
# Queries/s of faultdns against Unbound serving the same records on loopback, measured by dnsperf.
#
# Usage: bench/faultdns.sh [SECONDS]   (default 10 s per run; env ROUNDS (3), FAULTDNS_PORT,
#        UNBOUND_PORT)
#
# Installs dnsperf and unbound from Debian when missing (needs root for that). Everything stays on
# 127.0.0.1: unbound has only local-zone/local-data, no forwarders, and is never asked for anything
# outside its static zone. Three runs: unbound, faultdns with no rules, faultdns with 10 rules.
set -euo pipefail
cd "$(dirname "$0")/.."

secs="${1:-10}"
fport="${FAULTDNS_PORT:-25353}"
uport="${UNBOUND_PORT:-25354}"
names=100
threads="$(nproc)"

need=()
command -v dnsperf >/dev/null 2>&1 || need+=(dnsperf)
command -v unbound >/dev/null 2>&1 || [ -x /usr/sbin/unbound ] || need+=(unbound)
if [ "${#need[@]}" -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "bench: missing ${need[*]} and not root: cannot install" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
unbound_bin="$(command -v unbound || echo /usr/sbin/unbound)"

cargo build --release -q -p faultdns --features cli
bin="${CARGO_TARGET_DIR:-target}/release/faultdns"

work="$(mktemp -d)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# The same records for both servers, and the dnsperf query list.
{
  echo '$ORIGIN bench.test.'
  echo '@ 300 IN SOA ns.bench.test. hostmaster.bench.test. 1 3600 600 86400 60'
  for i in $(seq 0 $((names - 1))); do echo "www$i 60 IN A 192.0.2.$((i % 250 + 1))"; done
} >"$work/bench.zone"
for i in $(seq 0 $((names - 1))); do echo "www$i.bench.test A"; done >"$work/queries"

cat >"$work/unbound.conf" <<CONF
server:
  interface: 127.0.0.1@$uport
  port: $uport
  do-ip6: no
  do-daemonize: no
  chroot: ""
  username: ""
  directory: "$work"
  pidfile: "$work/unbound.pid"
  use-syslog: no
  logfile: ""
  verbosity: 0
  num-threads: $threads
  so-rcvbuf: 4m
  so-sndbuf: 4m
  access-control: 127.0.0.0/8 allow
  module-config: "iterator"
  local-zone: "bench.test." static
  local-data: "bench.test. 300 IN SOA ns.bench.test. hostmaster.bench.test. 1 3600 600 86400 60"
$(for i in $(seq 0 $((names - 1))); do echo "  local-data: \"www$i.bench.test. 60 IN A 192.0.2.$((i % 250 + 1))\""; done)
remote-control:
  control-enable: no
CONF

wait_port() {
  for _ in $(seq 1 100); do
    if dig +short +tries=1 +timeout=1 @127.0.0.1 -p "$1" www0.bench.test A 2>/dev/null | grep -q 192.0.2.1; then
      return 0
    fi
    sleep 0.1
  done
  echo "bench: server on port $1 did not answer" >&2
  exit 1
}

# dnsperf: bounded time, a fixed number of clients and outstanding queries.
perf() {
  timeout $((secs + 30)) dnsperf -s 127.0.0.1 -p "$1" -d "$work/queries" -l "$secs" -c 8 -q 500 -T 1 2>&1 |
    tee "$work/perf-$1-$2.txt" | awk '/Queries per second/ {printf "%.0f", $4}'
}

run_unbound() {
  "$unbound_bin" -c "$work/unbound.conf" 2>"$work/unbound.err" &
  pids+=($!)
  wait_port "$uport"
}

run_faultdns() {
  "$bin" --listen "127.0.0.1:$fport" --zone "$work/bench.zone" --seed 1 "$@" 2>"$work/faultdns.err" &
  pids+=($!)
  wait_port "$fport"
}

stop_last() { kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true; }

rules=()
for i in $(seq 1 9); do rules+=(--rule "drop name=nomatch$i.bench.test."); done
rules+=(--rule "answer name=*.bench.test. p=0.5")

# Rounds alternate the three servers so a busy neighbour on the machine hits all of them alike;
# each figure is the median of its rounds.
rounds="${ROUNDS:-3}"
u=(); p=(); r=()
for round in $(seq 1 "$rounds"); do
  run_unbound; u+=("$(perf "$uport" "unbound$round")"); stop_last
  run_faultdns; p+=("$(perf "$fport" "plain$round")"); stop_last
  run_faultdns "${rules[@]}"; r+=("$(perf "$fport" "rules$round")"); stop_last
done

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {printf "%.0f", a[int((NR+1)/2)]}'; }
unbound_qps="$(median "${u[@]}")"
plain_qps="$(median "${p[@]}")"
rules_qps="$(median "${r[@]}")"
lost() { cat "$work"/perf-"$1"-"$2"*.txt | awk '/Queries lost/ {s += $3} END {print s + 0}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
echo "date: $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, $rounds rounds of ${secs}s per server, dnsperf -c 8 -q 500 -T 1, $names names"
echo "unbound $("$unbound_bin" -V | head -1 | awk '{print $2}') (num-threads $threads): median $unbound_qps queries/s (rounds: ${u[*]}; lost $(lost "$uport" unbound))"
echo "faultdns, no rules: median $plain_qps queries/s (rounds: ${p[*]}; lost $(lost "$fport" plain)), ratio $(ratio "$plain_qps" "$unbound_qps")"
echo "faultdns, 10 rules: median $rules_qps queries/s (rounds: ${r[*]}; lost $(lost "$fport" rules)), ratio $(ratio "$rules_qps" "$unbound_qps")"
