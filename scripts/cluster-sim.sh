#!/usr/bin/env bash
# The simulated cluster: 8 network namespaces and a resolver namespace running Unbound (and
# faultdns for comparison), 3% and 10% loss on two hosts' links, dnsload on every host at once;
# prints `dnsload report` over every host's files and the loss per host.
#
#   sudo scripts/cluster-sim.sh [--duration 15s] [--workers 4] [--out DIR]
#
# Needs root, iproute2, nftables and unbound. The lab is the Rust one the tests use
# (tests/src/netns.rs), run by the `cluster-sim` binary; every address is inside the lab.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
  echo "cluster-sim: needs root (network namespaces, nftables)" >&2
  exit 2
fi
cargo build --quiet -p stubborn-tests --bins
target_dir=$(cargo metadata --format-version 1 --no-deps \
  | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
exec "$target_dir/debug/cluster-sim" "$@"
