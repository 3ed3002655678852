#!/usr/bin/env bash
# Scale-out integration test (docs/scale-out.md): a real HAProxy, configured from
# deploy/haproxy.cfg, in front of three relays and the Node fixture backend, all on 127.0.0.1.
#
#   1. 30 SSE clients on 10 conversations through HAProxy, concurrently, each request with a
#      traceparent of its own and an X-Request-ID from HAProxy: exactly 10 upstream starts,
#      each conversation on exactly one relay with its 3 clients, no per-request header in a
#      stream key.
#   2. SIGKILL the relay holding the most conversations: the conversations on the other two
#      are untouched (their clients keep receiving on the same connection, no new start); the
#      lost ones reconnect to a surviving relay and start once more (the documented cost).
#   3. 10 new conversations after the loss: each served in full, one start each, and 204 on
#      the reconnect after the end.
#   4. SIGTERM one of the two survivors while it serves 4-second streams (a planned restart):
#      /readyz 503 takes it out of HAProxy, its clients still get every event, it exits 0
#      once they are done; the reconnects after the end carry the end marker and get 204 from
#      the other relay, so no completion starts twice.
#   5. No relay left: HAProxy answers the stream route with 200 + retry: (fail-open rule).
#
# Usage: bash deploy/test-scale-out.sh     (after `swift build`; needs haproxy and node)
#   SSE_RELAY_BIN   the relay binary (default .build/debug/sse-relay)
# Every wait is bounded; every process started here is killed on exit.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source deploy/lib/test-support.sh

relay_bin=${SSE_RELAY_BIN:-.build/debug/sse-relay}
require_tools test-scale-out haproxy node
[ -x "$relay_bin" ] || { echo "test-scale-out: no relay binary at $relay_bin (swift build first)" >&2; exit 1; }

began=$(date +%s%N)
work=$(mktemp -d)
pids=()
status=1

cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ "$status" -ne 0 ]; then
    for log in "$work"/*.log; do
      [ -f "$log" ] || continue
      echo "--- last lines of $(basename "$log")"
      tail -n 15 "$log"
    done
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The fixture backend (standalone: it does not wait on our stdin).
start_fixture test-scale-out "$work"

# Three relays on ports of their choosing, read back from their "sse-relay listening" line.
# Behind HAProxy, as docs/scale-out.md recommends: the per-client budgets read the browser's
# address from the X-Forwarded-For that HAProxy adds.
echo '{ "limits": { "clientAddressHeader": "X-Forwarded-For" } }' >"$work/relay.json"
relays_json=""
declare -A listen admin
for n in 1 2 3; do
  "$relay_bin" --config "$work/relay.json" --listen 127.0.0.1:0 --admin 127.0.0.1:0 --upstream "http://127.0.0.1:$fixture_port" \
    --log-level notice 2>"$work/relay$n.log" &
  pid=$!
  pids+=("$pid")
  listen[$n]=$(address_in test-scale-out "$work/relay$n.log" listen)
  admin[$n]=$(address_in test-scale-out "$work/relay$n.log" admin)
  relays_json+="${relays_json:+,}{\"name\":\"relay$n\",\"pid\":$pid,\"listen\":\"${listen[$n]}\",\"admin\":\"${admin[$n]}\"}"
done

# HAProxy with deploy/haproxy.cfg, rewritten for this machine: relay addresses and check
# ports, the bind address, logging to a file, the runtime API socket in the work directory,
# and a maxconn that needs no raised file limit. Everything else is the example as it is.
haproxy_port=$(free_port)
sed_script=(
  -e "s|^\(\s*log\) /dev/log .*|\1 stdout format raw local0 info|"
  -e "s|^\(\s*maxconn\) [0-9]*|\1 4096|"
  -e "s|^\(\s*stats socket\) [^ ]*|\1 $work/haproxy.sock|"
  -e "s|^\(\s*bind\) :80$|\1 127.0.0.1:$haproxy_port|"
)
for n in 1 2 3; do
  sed_script+=(
    -e "s|10\.0\.0\.1$n:8080 id $n$|${listen[$n]} id $n port ${admin[$n]##*:}|"
    -e "s|10\.0\.0\.1$n:8080|${listen[$n]}|"
  )
done
sed "${sed_script[@]}" deploy/haproxy.cfg >"$work/haproxy.cfg"
if grep -v '^\s*#' "$work/haproxy.cfg" | grep -q '10\.0\.0\.\|/dev/log\|/run/haproxy\|bind :80' \
  || [ "$(grep -c ' port [0-9]*$' "$work/haproxy.cfg")" -ne 3 ]; then
  echo "test-scale-out: deploy/haproxy.cfg no longer has the shape this script rewrites" >&2
  exit 1
fi
haproxy -q -c -f "$work/haproxy.cfg"
haproxy -db -f "$work/haproxy.cfg" >"$work/haproxy.log" 2>&1 &
pids+=($!)
wait_for_socket test-scale-out "$work/haproxy.sock" HAProxy

echo "fixture 127.0.0.1:$fixture_port; haproxy 127.0.0.1:$haproxy_port;" \
  "relays ${listen[1]} ${listen[2]} ${listen[3]} (admin ${admin[1]} ${admin[2]} ${admin[3]})"
setup="{\"haproxy\":\"127.0.0.1:$haproxy_port\",\"haproxySocket\":\"$work/haproxy.sock\",\"fixture\":\"127.0.0.1:$fixture_port\",\"drainedFile\":\"$work/drained.pid\",\"relays\":[$relays_json]}"
# The client script kills relays itself; the braces keep bash's "Killed" job notices for
# those (its own stderr, fd 2) out of the output, while node's stderr (fd 3) still shows.
{ if node deploy/test-scale-out-clients.js "$setup" 2>&3; then status=0; fi; } 3>&2 2>/dev/null

# The relay drained in phase 4 must have exited 0 (SIGTERM drains, then exits 0).
if [ -s "$work/drained.pid" ]; then
  drained_pid=$(cat "$work/drained.pid")
  drained_status=0
  wait "$drained_pid" 2>/dev/null || drained_status=$?
  if [ "$drained_status" -eq 0 ]; then
    echo "the drained relay (pid $drained_pid) exited 0"
  else
    echo "FAIL: the drained relay (pid $drained_pid) exited $drained_status"
    status=1
  fi
fi

print_result test-scale-out "$status" "$began"
exit "$status"
