#!/usr/bin/env bash
# The replay-memory limit under load: 1,000 distinct streams × 20 events/s × 2 KB through the
# relay on the default limits.replayMemoryBytes (256 MiB), which this load fills in about
# 7 s, then keeps at the limit: every event from then on makes the relay reclaim memory.
#
#   bench/replay-limit.sh            # about 1 minute (plus the release build the first time)
#
# It reports whether reaching the limit costs anything it should not: the relay's CPU, the
# delivery latency and events per client (from bench/sseload.js), the clients dropped as slow
# (a relay too busy to write drops them), and how long /metrics takes to answer while the
# limit is being enforced (polled every 250 ms by a separate process; a reclaim that holds the
# registry's lock for long shows there first).
#
# Environment: RELAY_BIN runs that relay binary instead of building one (to compare two
# builds), RELAY_CONFIG the configuration it starts from (default bench/relay.json; an older
# build may not know all its keys), CLIENTS (default 1000), HOLD_SECONDS (default 25), REPLAY_MEMORY_BYTES (default
# the relay's default), BENCH_OUT keeps the raw outputs (default a new /tmp directory).
# Needs swift, node and python3; everything listens on 127.0.0.1 and every process started
# here is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in node python3 curl; do
  command -v "$tool" >/dev/null || { echo "replay-limit.sh: needs $tool on PATH" >&2; exit 1; }
done
ulimit -n "$(ulimit -Hn)"
clients=${CLIENTS:-1000}
hold_seconds=${HOLD_SECONDS:-25}
out=${BENCH_OUT:-$(mktemp -d /tmp/sse-relay-replaylimit.XXXX)}
mkdir -p "$out"
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT

if [ -n "${RELAY_BIN:-}" ]; then
  relay_bin=$RELAY_BIN
else
  echo "building the release binary (swift build -c release --scratch-path .build-bench)…" >&2
  swift build -c release --scratch-path .build-bench --product sse-relay >"$out/build.log" 2>&1 \
    || { tail -30 "$out/build.log" >&2; exit 1; }
  relay_bin=$(swift build -c release --scratch-path .build-bench --show-bin-path)/sse-relay
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_for() { # what command…: 10 s at most
  local what=$1 i
  shift
  for ((i = 0; i < 100; i++)); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "replay-limit.sh: $what did not come up" >&2
  exit 1
}

backend_port=$(free_port)
FIXTURE_STANDALONE=1 node Tests/SSERelayTests/Fixtures/backend.js "$backend_port" </dev/null >"$out/backend.out" 2>"$out/backend.log" &
pids+=($!)
wait_for "the backend" curl -sf "http://127.0.0.1:$backend_port/hello"

# bench/relay.json (the benchmark's budgets: all clients are one address), with the replay
# limit of REPLAY_MEMORY_BYTES when set.
node -e '
  const config = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  if (process.argv[2]) config.limits = { ...config.limits, replayMemoryBytes: Number(process.argv[2]) };
  console.log(JSON.stringify(config));' "${RELAY_CONFIG:-bench/relay.json}" "${REPLAY_MEMORY_BYTES:-}" >"$out/relay.json"
listen_port=$(free_port)
admin_port=$(free_port)
"$relay_bin" --config "$out/relay.json" --listen "127.0.0.1:$listen_port" \
  --upstream "http://127.0.0.1:$backend_port" --admin "127.0.0.1:$admin_port" 2>"$out/relay.log" &
relay_pid=$!
pids+=("$relay_pid")
wait_for "the relay" curl -sf "http://127.0.0.1:$admin_port/healthz"

# /metrics every 250 ms, each request's time to the whole answer; stops on SIGTERM.
cat >"$out/poll.js" <<'EOF'
'use strict';
const http = require('http');
const [port, file] = [Number(process.argv[2]), process.argv[3]];
const times = [];
let stopping = false;
const write = () => require('fs').writeFileSync(file, JSON.stringify(times));
process.on('SIGTERM', () => { stopping = true; write(); process.exit(0); });
(function poll() {
  if (stopping) return;
  const started = process.hrtime.bigint();
  http.get({ host: '127.0.0.1', port, path: '/metrics', agent: false, timeout: 60000 }, (res) => {
    res.resume();
    res.on('end', () => {
      times.push(Number(process.hrtime.bigint() - started) / 1e6);
      setTimeout(poll, 250);
    });
  }).on('error', () => setTimeout(poll, 250));
})();
EOF
node "$out/poll.js" "$admin_port" "$out/metrics-times.json" &
poller=$!
pids+=("$poller")

cpu_ticks() { local fields; read -ra fields <<<"$(sed 's/^.*) //' "/proc/$relay_pid/stat")"; echo $((fields[11] + fields[12])); }
ticks_before=$(cpu_ticks)
node bench/sseload.js \
  --url "http://127.0.0.1:$listen_port/api/conversation/{conv}/stream?events=100000000&interval=50&size=2048&stamp=1&hold=1" \
  --clients "$clients" --conversations distinct --hold-ms $((hold_seconds * 1000)) --timeout-s $((hold_seconds + 120)) \
  >"$out/sseload.json"
ticks_after=$(cpu_ticks)
kill -TERM "$poller"
wait "$poller" 2>/dev/null || true
curl -s "http://127.0.0.1:$admin_port/metrics" >"$out/relay.metrics"

metric() { awk -v name="$1" '$1 == name { print $2 }' "$out/relay.metrics"; }
node -e '
  const fs = require("fs");
  const [dir, ticks, hz] = process.argv.slice(1);
  const load = JSON.parse(fs.readFileSync(`${dir}/sseload.json`, "utf8"));
  const times = JSON.parse(fs.readFileSync(`${dir}/metrics-times.json`, "utf8")).sort((a, b) => a - b);
  const at = (p) => times.length ? times[Math.min(times.length - 1, Math.ceil(times.length * p / 100) - 1)].toFixed(1) : "-";
  console.log(`clients ${load.connected}/${load.clients}, events ${load.events} (per client ${load.eventsPerClient.min}–${load.eventsPerClient.max}), gaps ${load.gaps}, duplicates ${load.duplicates}`);
  console.log(`delivery ms p50 ${load.latencyMs.p50} p99 ${load.latencyMs.p99} max ${load.latencyMs.max}`);
  console.log(`relay CPU ${(Number(ticks) / Number(hz)).toFixed(2)} s over the run`);
  console.log(`/metrics answered ${times.length} times: p50 ${at(50)} ms, p99 ${at(99)} ms, max ${at(100)} ms`);
' "$out" $((ticks_after - ticks_before)) "$(getconf CLK_TCK)"
echo "slow clients dropped $(metric sse_relay_slow_clients_dropped_total)," \
  "replay limit hits $(metric 'sse_relay_limit_hits_total{limit="limits.replayMemoryBytes"}')," \
  "replay buffer bytes at the end $(metric sse_relay_replay_buffer_bytes)"
echo "raw outputs in $out"
