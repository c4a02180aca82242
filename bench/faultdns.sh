#!/usr/bin/env bash
# Queries/s of faultdns against Unbound serving the same records on loopback, measured by dnsperf,
# and of faultdns forwarding to that Unbound against Unbound asked directly.
#
# Usage: bench/faultdns.sh [SECONDS]   (default 10 s per run; env ROUNDS (3), FAULTDNS_PORT,
#        UNBOUND_PORT)
#
# Installs dnsperf and unbound from Debian when missing (needs root for that). Everything stays on
# 127.0.0.1: unbound has only local-zone/local-data, no forwarders, and is never asked for anything
# outside its static zone. Five runs per round: unbound; faultdns forwarding to that unbound
# (--upstream, no data of its own) with no rules and with 10 rules; faultdns serving the records
# itself with no rules and with 10 rules.
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

# CPU time (user + system, in clock ticks) a process has used so far.
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz="$(getconf CLK_TCK)"

# dnsperf: bounded time, a fixed number of clients and outstanding queries. Prints queries/s;
# with server PIDs after the port and tag, also writes the CPU microseconds per completed query
# of dnsperf and of each server to $work/cpu-TAG.txt.
perf() {
  local port="$1" tag="$2"; shift 2
  local before=() pid
  for pid in "$@"; do before+=("$(ticks "$pid")"); done
  local TIMEFORMAT='%U %S'
  { time timeout $((secs + 30)) dnsperf -s 127.0.0.1 -p "$port" -d "$work/queries" -l "$secs" \
      -c 8 -q 500 -T 1 >"$work/perf-$port-$tag.txt" 2>&1; } 2>"$work/time-$tag.txt"
  local done_q
  done_q="$(awk '/Queries completed/ {print $3}' "$work/perf-$port-$tag.txt")"
  {
    awk -v n="$done_q" '{printf "%.1f", ($1 + $2) * 1e6 / n}' "$work/time-$tag.txt"
    local i=0
    for pid in "$@"; do
      awk -v a="${before[$i]}" -v b="$(ticks "$pid")" -v hz="$hz" -v n="$done_q" \
        'BEGIN {printf " %.1f", (b - a) * 1e6 / hz / n}'
      i=$((i + 1))
    done
    echo
  } >"$work/cpu-$tag.txt"
  awk '/Queries per second/ {printf "%.0f", $4}' "$work/perf-$port-$tag.txt"
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

# faultdns with no data: every query goes to the Unbound above.
run_forward() {
  "$bin" --listen "127.0.0.1:$fport" --upstream "127.0.0.1:$uport" --seed 1 "$@" 2>"$work/forward.err" &
  pids+=($!)
  wait_port "$fport"
}

stop_last() { kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true; unset 'pids[-1]'; }

rules=()
for i in $(seq 1 9); do rules+=(--rule "drop name=nomatch$i.bench.test."); done
rules+=(--rule "answer name=*.bench.test. p=0.5")

# Rounds alternate the servers so a busy neighbour on the machine hits all of them alike;
# each figure is the median of its rounds.
rounds="${ROUNDS:-3}"
u=(); p=(); r=(); fp=(); fr=()
for round in $(seq 1 "$rounds"); do
  run_unbound; upid="${pids[-1]}"
  u+=("$(perf "$uport" "unbound$round" "$upid")")
  run_forward; fp+=("$(perf "$fport" "fwdplain$round" "$upid" "${pids[-1]}")"); stop_last
  run_forward "${rules[@]}"; fr+=("$(perf "$fport" "fwdrules$round" "$upid" "${pids[-1]}")"); stop_last
  stop_last
  run_faultdns; p+=("$(perf "$fport" "plain$round")"); stop_last
  run_faultdns "${rules[@]}"; r+=("$(perf "$fport" "rules$round")"); stop_last
done

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {printf "%.0f", a[int((NR+1)/2)]}'; }
unbound_qps="$(median "${u[@]}")"
plain_qps="$(median "${p[@]}")"
rules_qps="$(median "${r[@]}")"
fwd_plain_qps="$(median "${fp[@]}")"
fwd_rules_qps="$(median "${fr[@]}")"
lost() { cat "$work"/perf-"$1"-"$2"*.txt | awk '/Queries lost/ {s += $3} END {print s + 0}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
echo "date: $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, $rounds rounds of ${secs}s per server, dnsperf -c 8 -q 500 -T 1, $names names"
echo "unbound $("$unbound_bin" -V | head -1 | awk '{print $2}') (num-threads $threads): median $unbound_qps queries/s (rounds: ${u[*]}; lost $(lost "$uport" unbound))"
echo "faultdns, no rules: median $plain_qps queries/s (rounds: ${p[*]}; lost $(lost "$fport" plain)), ratio $(ratio "$plain_qps" "$unbound_qps")"
echo "faultdns, 10 rules: median $rules_qps queries/s (rounds: ${r[*]}; lost $(lost "$fport" rules)), ratio $(ratio "$rules_qps" "$unbound_qps")"
echo "faultdns forwarding to unbound, no rules: median $fwd_plain_qps queries/s (rounds: ${fp[*]}; lost $(lost "$fport" fwdplain)), ratio $(ratio "$fwd_plain_qps" "$unbound_qps")"
echo "faultdns forwarding to unbound, 10 rules: median $fwd_rules_qps queries/s (rounds: ${fr[*]}; lost $(lost "$fport" fwdrules)), ratio $(ratio "$fwd_rules_qps" "$unbound_qps")"
# CPU per query, median over the rounds: where the time goes on the shared CPUs.
cpu() { cat "$work"/cpu-"$1"*.txt | awk -v c="$2" '{print $c}' | sort -g | awk '{a[NR]=$1} END {printf "%.1f", a[int((NR+1)/2)]}'; }
echo "CPU microseconds per query (median): straight to unbound: dnsperf $(cpu unbound 1), unbound $(cpu unbound 2); through faultdns, no rules: dnsperf $(cpu fwdplain 1), unbound $(cpu fwdplain 2), faultdns $(cpu fwdplain 3); 10 rules: faultdns $(cpu fwdrules 3)"
