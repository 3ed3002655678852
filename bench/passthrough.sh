#!/usr/bin/env bash
# Pass-through figures (docs/benchmarks.md): relay RSS while 1 GiB streams through it each way, and
# wrk throughput and latency through the relay versus straight to the same upstream.
#
#   bench/passthrough.sh            # builds the release binary first
#
# Loopback only. Needs node, curl and wrk (apt-get install wrk).
set -euo pipefail
cd "$(dirname "$0")/.."

swift build -c release --scratch-path .build-bench --product sse-relay >/dev/null
relay_bin=$(swift build -c release --scratch-path .build-bench --show-bin-path)/sse-relay
work=$(mktemp -d)
cleanup() { kill "${relay_pid:-}" "${backend_pid:-}" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
hwm_kib() { awk '/^VmHWM/ {print $2}' "/proc/$1/status"; }
# User plus system CPU time of a process, in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# The backend fixture of the integration tests, standalone (it does not watch its stdin).
backend_port=$(free_port)
FIXTURE_STANDALONE=1 node Tests/SSERelayTests/Fixtures/backend.js "$backend_port" </dev/null >"$work/backend.out" &
backend_pid=$!
for _ in $(seq 50); do grep -q port "$work/backend.out" 2>/dev/null && break; sleep 0.1; done

relay_port=$(free_port)
"$relay_bin" --listen "127.0.0.1:$relay_port" --upstream "http://127.0.0.1:$backend_port" \
  --admin 127.0.0.1:0 --log-level "${LOG_LEVEL:-warning}" 2>"$work/relay.log" &
relay_pid=$!
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$relay_port/hello" && break; sleep 0.1; done

echo "relay pid $relay_pid, idle RSS $(rss_kib $relay_pid) KiB"

gib=$((1 << 30))
start=$(date +%s.%N)
curl -s -o /dev/null -w 'download: %{size_download} bytes, %{speed_download} B/s\n' \
  "http://127.0.0.1:$relay_port/bytes/$gib"
echo "after 1 GiB download: RSS $(rss_kib $relay_pid) KiB, peak $(hwm_kib $relay_pid) KiB"
head -c "$gib" /dev/zero | curl -s -X POST -T - \
  -w '\nupload: %{size_upload} bytes, %{speed_upload} B/s\n' "http://127.0.0.1:$relay_port/upload"
echo "after 1 GiB upload: RSS $(rss_kib $relay_pid) KiB, peak $(hwm_kib $relay_pid) KiB"

for target in "direct 127.0.0.1:$backend_port" "relay 127.0.0.1:$relay_port"; do
  set -- $target
  echo "== wrk -t1 -c64 -d10s $1"
  relay_before=$(cpu_ticks "$relay_pid"); backend_before=$(cpu_ticks "$backend_pid")
  wrk -t1 -c64 -d10s --latency "http://$2/hello" >"$work/wrk.txt"
  grep -E 'Requests/sec|  99%|  50%|Non-2xx|Socket errors' "$work/wrk.txt" || true
  requests=$(awk '/requests in/ {print $1}' "$work/wrk.txt")
  ticks=$(getconf CLK_TCK)
  awk -v r="$(( $(cpu_ticks "$relay_pid") - relay_before ))" -v b="$(( $(cpu_ticks "$backend_pid") - backend_before ))" \
      -v n="$requests" -v t="$ticks" \
      'BEGIN { printf "CPU: relay %.2f s (%.1f us/request), backend %.2f s\n", r/t, r/t*1e6/n, b/t }'
done
echo "relay RSS after wrk: $(rss_kib $relay_pid) KiB, peak $(hwm_kib $relay_pid) KiB"
