#!/usr/bin/env bash
# Counts the instructions the relay executes for one pass-through request or one joining stream
# client, under callgrind: repeatable on a machine without performance counters, so one change
# can be measured at a time (the method and its figures: docs/benchmarks.md, "Instruction
# counts").
#
#   bench/instructions/run.sh passthrough [BINARY]   # 4,000 keep-alive GETs to a fast upstream
#   bench/instructions/run.sh join [BINARY]          # 300 clients joining one conversation
#   bench/instructions/run.sh floor [BINARY]         # the passthrough load through the NIO floor
#
# `floor` counts bench/NIOFloor, a minimal reverse proxy on NIO's own HTTP/1 pipelines, under
# the same load as `passthrough`: what the framework costs with nothing of the relay's.
# Without BINARY it builds the relay (or the floor) as valgrind 3.19 can read it: release, the Swift runtime
# linked in (the dynamically linked Foundation crashes it), debug information stripped (it
# cannot read DWARF 5), in .build-cg. Needs valgrind, node, curl, python3 (free ports), and
# nginx for `passthrough`. Everything listens on 127.0.0.1, on ports the OS picks.
#
# passthrough: an nginx answering `GET /hello` (bench/fast-upstream.conf), 500 warm-up
#   requests, then 4,000 counted, over 8 keep-alive connections (keepalive-get.js).
# join: the Node fixture's conversation with `gate=1` (no timer), started by one client with
#   the joiners' cookie (part of the stream key), 3 events released, 50 warm-up joiners, then
#   300 counted, 100 connecting at a time with a browser's headers; each leaves once it has
#   the head and an event (joiners.js).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

usage="usage: $0 passthrough|join|floor [BINARY]"
case "${1:-}" in passthrough | join | floor) load=$1 ;; *) echo "$usage" >&2; exit 64 ;; esac
product=sse-relay
[ "$load" != floor ] || product=sse-relay-nio-floor
work=$(mktemp -d "${TMPDIR:-/tmp}/sse-relay-instructions.XXXXXX")
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT

if [ -n "${2:-}" ]; then
  relay=$2
else
  swift build -c release --scratch-path .build-cg --product "$product" -Xswiftc -static-stdlib >"$work/build.log" 2>&1 ||
    { tail -n 40 "$work/build.log" >&2; exit 1; }
  relay="$work/$product"
  objcopy --strip-debug ".build-cg/release/$product" "$relay"
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# Waits (30 s at most) until `curl` gets an answer from $1.
wait_answer() {
  for _ in $(seq 1 60); do
    curl -s -o /dev/null "$1" && return 0
    sleep 0.5
  done
  echo "no answer from $1" >&2
  return 1
}

upstream_port=$(free_port)
if [ "$load" != join ]; then
  mkdir -p "$work/nginx"
  sed -e "s|@WORK@|$work/nginx|g" -e "s|@LISTEN_PORT@|$upstream_port|g" bench/fast-upstream.conf >"$work/nginx/nginx.conf"
  nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -e "$work/nginx/error.log" &
else
  FIXTURE_STANDALONE=1 node Tests/SSERelayTests/Fixtures/backend.js "$upstream_port" </dev/null >"$work/backend.log" 2>&1 &
fi
pids+=($!)
wait_answer "http://127.0.0.1:$upstream_port/hello"

relay_port=$(free_port)
admin_port=$(free_port)
cat >"$work/relay.json" <<JSON
{
  "listen": "127.0.0.1:$relay_port",
  "admin": { "listen": "127.0.0.1:$admin_port" },
  "upstream": { "url": "http://127.0.0.1:$upstream_port", "maxConnections": 256 },
  "limits": { "streamStartBurstPerClient": 100000, "streamStartsPerClientPerMinute": 0, "maxLingeringPerClient": 100000 },
  "log": { "level": "warning" }
}
JSON
if [ "$load" = floor ]; then
  set -- "$relay_port" "$upstream_port"
else
  set -- serve --config "$work/relay.json"
fi
valgrind --tool=callgrind --callgrind-out-file="$work/callgrind.out" "$relay" "$@" >"$work/relay.log" 2>&1 &
valgrind_pid=$!
pids+=("$valgrind_pid")
wait_answer "http://127.0.0.1:$relay_port/hello"

if [ "$load" != join ]; then
  units=4000
  unit=request
  node bench/instructions/keepalive-get.js "$relay_port" 500 8
  callgrind_control -z "$valgrind_pid" >/dev/null 2>&1
  node bench/instructions/keepalive-get.js "$relay_port" "$units" 8
else
  units=300
  unit="joining client"
  path="/api/conversation/instructions/stream?events=100&gate=1&hold=1"
  curl -sN -H 'Cookie: session=abcdef0123456789; theme=dark' "http://127.0.0.1:$relay_port$path" >/dev/null &
  pids+=($!)
  # The release reaches the stream once the relay has started it upstream (bounded: 30 s).
  for _ in $(seq 1 60); do
    grep -q '"starts":1' <(curl -s "http://127.0.0.1:$upstream_port/api/conversation/instructions/stats") && break
    sleep 0.5
  done
  curl -s -X POST "http://127.0.0.1:$upstream_port/api/conversation/instructions/release?events=3" >/dev/null
  node bench/instructions/joiners.js "$relay_port" "$path" 50 10
  callgrind_control -z "$valgrind_pid" >/dev/null 2>&1
  node bench/instructions/joiners.js "$relay_port" "$path" "$units" 100
fi
callgrind_control -d "$valgrind_pid" >/dev/null 2>&1
kill -TERM "$valgrind_pid" # not INT: a background job of a script ignores SIGINT
wait "$valgrind_pid" || true

total=$(callgrind_annotate "$work/callgrind.out.1" 2>/dev/null | sed -n 's/^ *\([0-9,]*\) .*PROGRAM TOTALS.*/\1/p' | tr -d ,)
echo "$load: $((total / units)) instructions per $unit ($total over $units; profile: $work/callgrind.out.1)"
