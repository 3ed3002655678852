#!/usr/bin/env bash
# Cluster-mode cost figures (README "cluster"): what the directory in PostgreSQL costs. Not run
# in CI. Loopback only; a throwaway PostgreSQL (deploy/postgres-throwaway.sh), the Node fixture.
#
#   bench/cluster-load.sh [CONVERSATIONS] [STARTS]    # defaults 1000 and 200
#
# 1. Steady load: CONVERSATIONS concurrently open conversations (one client each, long streams:
#    events=1000000&interval=1000, one event a second) spread over 3 clustered relays with the
#    default lease settings (leaseSeconds 15, renewIntervalSeconds 5). Once all are open, twice
#    for 3 renewal intervals (15 s; 12 s and 65 s after the opening): the directory statements
#    the relays sent (sse_relay_cluster_directory_statements_total), per second and per 1,000
#    active conversations, cross-checked with PostgreSQL's own count of committed transactions
#    (pg_stat_database.xact_commit of the database, less the measuring query's own). The
#    second window comes after postgres-nio closed the extra connections of the opening burst,
#    whose keep-alive queries PostgreSQL counts but the relays do not (see cluster-load.js).
#    Also the claim latency of the opening burst (mean from the histogram's sum and count;
#    p50/p99 estimated from its buckets).
# 2. What a claim adds to a start: STARTS sequential new-conversation requests (events=1) on a
#    fresh clustered relay and as many on a fresh single-node relay (no cluster section,
#    otherwise the same configuration), alternated, each on a new connection: the time from
#    sending the request to the response head, p50/p99 for each and the difference. The
#    clustered relay's claim latency (quiet, sequential) from its histogram too.
#
# Environment:
#   SSE_RELAY_BIN   the relay binary; default: a release build in .build-bench (as bench/*.sh)
# Prints the figures as text and one JSON line (FIGURES {...}).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source deploy/lib/test-support.sh
conversations=${1:-1000}
starts=${2:-200}
# Three relays with CONVERSATIONS streams each hold a client and an upstream socket per stream,
# and the Node helper holds CONVERSATIONS sockets: raise the soft limit to the hard one.
ulimit -n "$(ulimit -Hn)"

if [ -n "${SSE_RELAY_BIN:-}" ]; then
  relay_bin=$SSE_RELAY_BIN
else
  swift build -c release --scratch-path .build-bench --product sse-relay >/dev/null
  relay_bin=$(swift build -c release --scratch-path .build-bench --show-bin-path)/sse-relay
fi
[ -x "$relay_bin" ] || { echo "cluster-load: no relay binary at $relay_bin" >&2; exit 1; }
relay_bin=$(cd "$(dirname "$relay_bin")" && pwd)/$(basename "$relay_bin")
pg_bindir=$(bash deploy/postgres-throwaway.sh check)

work=$(mktemp -d)
pgdir=/tmp/sse-relay-bench-pg.$$.$RANDOM
pids=()
cleanup() {
  local pid
  {
    for pid in "${pids[@]}"; do kill -KILL "$pid" || true; done
    for pid in "${pids[@]}"; do wait "$pid" || true; done
  } 2>/dev/null
  bash deploy/postgres-throwaway.sh stop "$pgdir" --remove >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

pg_url=$(bash deploy/postgres-throwaway.sh start "$pgdir")
cp "$pgdir/password" "$work/pg-password"
od -An -tx1 -N24 /dev/urandom | tr -d ' \n' >"$work/peer-secret"
chmod 600 "$work/pg-password" "$work/peer-secret"

start_fixture cluster-load "$work"

# Every client is 127.0.0.1 here: no start-rate budget. Lease settings: the defaults.
common='"limits": { "streamStartsPerClientPerMinute": 0, "maxLingeringPerClient": 100000 }'
cat >"$work/cluster.json" <<EOF
{
  $common,
  "cluster": {
    "database": { "url": "$pg_url", "passwordFile": "$work/pg-password", "tls": "disable" },
    "peer": { "listen": "127.0.0.1:0", "secretFile": "$work/peer-secret" }
  }
}
EOF
echo "{ $common }" >"$work/single.json"

# Starts a relay with CONFIG, logging to LOG; sets relay_pid, relay_listen and relay_admin once
# it listens.
start_relay() {
  local config=$1 log=$2 i
  "$relay_bin" --config "$config" --listen 127.0.0.1:0 --admin 127.0.0.1:0 \
    --upstream "http://127.0.0.1:$fixture_port" --log-level notice >/dev/null 2>"$log" &
  relay_pid=$!
  pids+=("$relay_pid")
  for ((i = 0; i < 100; i++)); do
    relay_listen=$(grep -o '"listen":"127\.0\.0\.1:[0-9]*"' "$log" 2>/dev/null | head -n 1 | cut -d'"' -f4 || true)
    relay_admin=$(grep -o '"admin":"127\.0\.0\.1:[0-9]*"' "$log" 2>/dev/null | head -n 1 | cut -d'"' -f4 || true)
    if [ -n "$relay_listen" ] && [ -n "$relay_admin" ]; then return 0; fi
    sleep 0.1
  done
  echo "cluster-load: a relay did not start; its log:" >&2
  cat "$log" >&2
  exit 1
}

echo "relay binary: $relay_bin"
echo "postgres $pg_url (PostgreSQL $("$pg_bindir/postgres" --version | grep -o '[0-9][0-9.]*' | head -n 1)); fixture 127.0.0.1:$fixture_port"

# 1. Three clustered relays, CONVERSATIONS open conversations.
relays_json=""
load_pids=()
for n in 1 2 3; do
  start_relay "$work/cluster.json" "$work/load$n.log"
  load_pids+=("$relay_pid")
  relays_json+="${relays_json:+,}{\"name\":\"load$n\",\"listen\":\"$relay_listen\",\"admin\":\"$relay_admin\"}"
done
setup="{\"fixture\":\"127.0.0.1:$fixture_port\",\"pgUrl\":\"$pg_url\",\"pgPasswordFile\":\"$work/pg-password\",\"psql\":\"$pg_bindir/psql\",\"relays\":[$relays_json]}"
node bench/cluster-load.js load "$setup" "$conversations" 15 | tee "$work/load.out"

# The load relays go (their streams with them) before the start-latency run.
{
  for pid in "${load_pids[@]}"; do kill -KILL "$pid" || true; done
  for pid in "${load_pids[@]}"; do wait "$pid" || true; done
} 2>/dev/null

# 2. A fresh clustered relay and a fresh single-node relay, the same but for the cluster section.
start_relay "$work/cluster.json" "$work/tth-cluster.log"
cluster_json="{\"listen\":\"$relay_listen\",\"admin\":\"$relay_admin\"}"
start_relay "$work/single.json" "$work/tth-single.log"
single_json="{\"listen\":\"$relay_listen\",\"admin\":\"$relay_admin\"}"
setup="{\"fixture\":\"127.0.0.1:$fixture_port\",\"cluster\":$cluster_json,\"single\":$single_json}"
node bench/cluster-load.js starts "$setup" "$starts" | tee "$work/starts.out"

echo "FIGURES {\"load\":$(grep '^RESULT ' "$work/load.out" | cut -d' ' -f2-),\"starts\":$(grep '^RESULT ' "$work/starts.out" | cut -d' ' -f2-)}"
