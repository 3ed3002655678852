#!/usr/bin/env bash
# Stream engine figures (docs/benchmarks.md): one upstream stream fanned out to many clients.
#
#   bench/fanout.sh [CLIENTS]        # default 1000; builds the release binary first
#
# Runs two scenarios against the backend fixture, each with CLIENTS clients on ONE conversation:
#   paced:  20 events/s for 10 s (delivery latency and RSS with the clients connected)
#   flood:  as fast as the fixture writes (batches of 50 events per 1 ms tick), 20,000 events
# and prints the fixture's stream starts (1 means the clients were collapsed), the load
# generator's JSON line, and the relay's RSS and CPU time. Loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."
clients=${1:-1000}
ulimit -n 20000

swift build -c release --scratch-path .build-bench --product sse-relay >/dev/null
relay_bin=$(swift build -c release --scratch-path .build-bench --show-bin-path)/sse-relay
work=$(mktemp -d)
cleanup() { kill "${relay_pid:-}" "${backend_pid:-}" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
status_kib() { awk -v k="$2" '$1 == k":" {print $2}' "/proc/$1/status"; }
cpu_seconds() { awk -v t="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / t}' "/proc/$1/stat"; }

backend_port=$(free_port)
FIXTURE_STANDALONE=1 node Tests/SSERelayTests/Fixtures/backend.js "$backend_port" </dev/null >"$work/backend.out" &
backend_pid=$!
for _ in $(seq 50); do grep -q port "$work/backend.out" 2>/dev/null && break; sleep 0.1; done
relay_port=$(free_port)
"$relay_bin" --listen "127.0.0.1:$relay_port" --upstream "http://127.0.0.1:$backend_port" \
  --admin 127.0.0.1:0 --log-level warning 2>"$work/relay.log" &
relay_pid=$!
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$relay_port/hello" && break; sleep 0.1; done
echo "relay idle RSS: $(status_kib $relay_pid VmRSS) KiB"

run() {
  local name=$1 query=$2
  local conversation="bench-$name-$RANDOM"
  local before_cpu; before_cpu=$(cpu_seconds "$relay_pid")
  node bench/fanout.js "http://127.0.0.1:$relay_port/api/conversation/$conversation/stream?$query" "$clients" >"$work/$name.json" &
  local client_pid=$!
  local peak=0
  while kill -0 "$client_pid" 2>/dev/null; do
    rss=$(status_kib "$relay_pid" VmRSS); [ "$rss" -gt "$peak" ] && peak=$rss
    sleep 0.5
  done
  echo "== $name: $clients clients, ?$query"
  cat "$work/$name.json"
  echo "backend stream starts: $(curl -s "http://127.0.0.1:$backend_port/api/conversation/$conversation/stats")"
  echo "relay RSS peak while streaming: $peak KiB; relay CPU: $(echo "$(cpu_seconds "$relay_pid") - $before_cpu" | bc) s"
}

run paced "events=200&interval=50&stamp=1"
run flood "events=20000&interval=1&batch=50&stamp=1"
