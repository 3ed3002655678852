#!/usr/bin/env bash
# Cluster-mode integration test (docs/scale-out.md, "With a database: the cluster
# directory"): relays that share a directory of stream ownership in a real PostgreSQL, behind a
# real HAProxy that spreads requests round-robin, so the clients of one conversation reach
# different relays. All on 127.0.0.1.
#
#   1. 30 clients on 10 conversations, concurrently: exactly 10 upstream starts; every client
#      gets every event once, in order (the relays that do not hold a key forward to the one
#      that does), and 204 on its reconnect after the end.
#   2. Clients cut mid-stream reconnect with Last-Event-ID through any relay: `resumed`, the
#      rest of the events once, no new start.
#   3. A fourth relay joins mid-stream (started, then put in HAProxy); every client is cut and
#      reconnects, some through the new relay: still one start per conversation.
#   4. Rolling restart: each relay in turn gets SIGTERM and a replacement takes its HAProxy
#      slot, while clients keep being cut and reconnecting until the streams near their end
#      (longer than leaseSeconds): no conversation starts twice; the draining relays keep
#      renewing the leases of the streams they serve (their metrics, and the directory's
#      table read with psql), serve them to the end, release their leases and exit 0; every
#      reconnect after the end (with the end marker) gets 204.
#   5. SIGKILL the relay holding the most conversations: its conversations start at most once
#      more, and not before its leases ran out by the database's clock (leaseSeconds 4 here);
#      the others are untouched.
#   6. PostgreSQL stopped: the relays serve as single nodes (/readyz "ready (degraded: ...)",
#      sse_relay_cluster_degraded 1), new conversations are served in full; PostgreSQL started
#      again on the same port: within a few renewals every relay is back ("ready", metric 0)
#      and a new conversation's 3 clients share one start again.
#
# It also prints figures: the directory's claim latency (p50/p99 estimated from the relays'
# sse_relay_cluster_directory_seconds buckets) and the extra delivery latency of forwarded
# clients (two Via hops) over direct ones.
#
# Usage: bash deploy/test-cluster.sh   (after `swift build`; needs haproxy, node and
#        PostgreSQL's server binaries, see deploy/postgres-throwaway.sh)
#   SSE_RELAY_BIN     the relay binary (default .build/debug/sse-relay)
#   TEST_CLUSTER_KEEP when set, the work directory (logs, configuration) is kept; its path is
#                     printed at the end
# Prints a PASS or FAIL line per phase (a FAIL line per failed check before it); exits 0 when
# every check holds. Takes about 40 s. Every wait is bounded; every process started here (the
# relays are started by the client script, which lists their pids in the work directory) is
# killed on exit, and the PostgreSQL server is stopped and its directory removed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source deploy/lib/test-support.sh

relay_bin=${SSE_RELAY_BIN:-.build/debug/sse-relay}
require_tools test-cluster haproxy node
[ -x "$relay_bin" ] || { echo "test-cluster: no relay binary at $relay_bin (swift build first)" >&2; exit 1; }
pg_bindir=$(bash deploy/postgres-throwaway.sh check)

began=$(date +%s%N)
work=$(mktemp -d)
# PostgreSQL runs as the postgres user under root, so its directory must not be inside $work
# (mode 700); postgres-throwaway.sh makes it, private to that user.
pgdir=/tmp/sse-relay-cluster-pg.$$.$RANDOM
pids=()
status=1

cleanup() {
  local pid
  # (The braces keep bash's "Killed" job notices out of the output.)
  {
    for pid in "${pids[@]}"; do kill -KILL "$pid" || true; done
    # The relays the client script started (it kills them itself when it ends normally). A pid
    # is killed only while it still names an sse-relay process.
    if [ -f "$work/relays.pids" ]; then
      while read -r pid; do
        [ -n "$pid" ] || continue
        if tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q sse-relay; then kill -KILL "$pid" || true; fi
      done <"$work/relays.pids"
    fi
    for pid in "${pids[@]}"; do wait "$pid" || true; done
  } 2>/dev/null
  if [ "$status" -ne 0 ]; then
    for log in "$work"/*.log "$pgdir/log"; do
      [ -f "$log" ] || continue
      echo "--- last lines of $log"
      tail -n 15 "$log"
    done
  fi
  bash deploy/postgres-throwaway.sh stop "$pgdir" --remove >/dev/null 2>&1 || true
  if [ -n "${TEST_CLUSTER_KEEP:-}" ]; then echo "test-cluster: kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# PostgreSQL 15 (Debian's, or whatever postgres-throwaway.sh finds), fresh.
pg_url=$(bash deploy/postgres-throwaway.sh start "$pgdir" 2>"$work/postgres-start.log") || {
  echo "test-cluster: the throwaway PostgreSQL did not start" >&2
  cat "$work/postgres-start.log" >&2
  exit 1
}
cp "$pgdir/password" "$work/pg-password"

# The fixture backend (standalone: it does not wait on our stdin).
start_fixture test-cluster "$work"

# The relays' configuration. Behind HAProxy: budgets by X-Forwarded-For, and no start-rate
# limit or lingering budget in the way of the test's own churn (every client is 127.0.0.1).
# retryMs 500 keeps the reconnects, and a drained relay's reconnect window (retryMs + 1 s),
# short. leaseSeconds 4 with a renewal every second, so a killed relay's keys are free fast.
od -An -tx1 -N24 /dev/urandom | tr -d ' \n' >"$work/peer-secret"
chmod 600 "$work/peer-secret" "$work/pg-password"
cat >"$work/relay.json" <<EOF
{
  "limits": {
    "clientAddressHeader": "X-Forwarded-For",
    "streamStartsPerClientPerMinute": 0,
    "maxLingeringPerClient": 100000
  },
  "streams": [
    { "path": "/api/conversation/:conversationId/stream", "retryMs": 500, "upstreamLingerSeconds": 5 }
  ],
  "shutdownGraceSeconds": 40,
  "cluster": {
    "database": {
      "url": "$pg_url",
      "passwordFile": "$work/pg-password",
      "tls": "disable",
      "table": "sse_relay_directory"
    },
    "peer": { "listen": "127.0.0.1:0", "secretFile": "$work/peer-secret" },
    "leaseSeconds": 4,
    "renewIntervalSeconds": 1,
    "directoryTimeoutSeconds": 1
  }
}
EOF
"$relay_bin" check-config "$work/relay.json" >"$work/check-config.out" 2>&1 || {
  echo "test-cluster: sse-relay check-config rejects the test's configuration:" >&2
  cat "$work/check-config.out" >&2
  exit 1
}

# HAProxy, round-robin over four server slots, all in maintenance with no address until the
# client script gives each the address of a relay it started (runtime API: set server ... addr,
# state ready). No health checks (a replacement relay has new ports, admin port included): a
# stopped relay refuses, and the request is retried on another slot (redispatch). A response
# names its slot (X-Served-By), so the client script knows which relay a client reached.
haproxy_port=$(free_port)
cat >"$work/haproxy.cfg" <<EOF
global
    maxconn 4096
    stats socket $work/haproxy.sock mode 600 level admin
    log stdout format raw local0 info

defaults
    mode http
    log global
    option httplog
    option dontlognull
    timeout connect 1s
    timeout http-request 10s
    timeout http-keep-alive 10s
    timeout client 1h
    timeout server 1h
    timeout client-fin 10s
    timeout server-fin 10s
    retries 3
    option redispatch 1
    retry-on conn-failure empty-response

frontend www
    bind 127.0.0.1:$haproxy_port
    option forwardfor
    default_backend relays

backend relays
    balance roundrobin
    option http-no-delay
    http-reuse never
    http-response set-header X-Served-By %[srv_name]
    server slot1 127.0.0.1:9 id 1 disabled
    server slot2 127.0.0.1:9 id 2 disabled
    server slot3 127.0.0.1:9 id 3 disabled
    server slot4 127.0.0.1:9 id 4 disabled
EOF
haproxy -q -c -f "$work/haproxy.cfg"
haproxy -db -f "$work/haproxy.cfg" >"$work/haproxy.log" 2>&1 &
pids+=($!)
wait_for_socket test-cluster "$work/haproxy.sock" HAProxy

echo "postgres $pg_url; fixture 127.0.0.1:$fixture_port; haproxy 127.0.0.1:$haproxy_port"
setup=$(printf '{"haproxy":"127.0.0.1:%s","haproxySocket":"%s","fixture":"127.0.0.1:%s","relayBin":"%s","relayConfig":"%s","work":"%s","pgDir":"%s","pgUrl":"%s","pgPasswordFile":"%s","psql":"%s","slots":["slot1","slot2","slot3","slot4"]}' \
  "$haproxy_port" "$work/haproxy.sock" "$fixture_port" "$(cd "$(dirname "$relay_bin")" && pwd)/$(basename "$relay_bin")" \
  "$work/relay.json" "$work" "$pgdir" "$pg_url" "$work/pg-password" "$pg_bindir/psql")
if node deploy/test-cluster-clients.js "$setup"; then status=0; fi

print_result test-cluster "$status" "$began"
exit "$status"
