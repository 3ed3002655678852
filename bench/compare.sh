#!/usr/bin/env bash
# sse-relay next to nginx, in ONE run, on the same backend (figures in docs/benchmarks.md).
#
#   bench/compare.sh                 # about 5 minutes (plus the release build the first time)
#
# Prerequisites (Debian 12): swift (on PATH), node (18+), nginx (the Debian package; the
# system service need not run: the script starts its own instance from bench/nginx.conf),
# wrk, curl, python3 (free ports), and an open-files hard limit of at least 20,000 (the
# script raises `ulimit -n` to the hard limit). Run it as a user that may start nginx (root,
# or any user: nginx then runs its workers as that user).
#
# It builds the relay in release mode (`swift build -c release --scratch-path .build-bench`,
# never the default .build), then for every scenario and target starts a FRESH backend
# fixture (Tests/SSERelayTests/Fixtures/backend.js), a fresh proxy in front of it, and the
# load, so each figure (peak RSS included) belongs to that scenario alone. Targets: "direct"
# (the backend itself, where it makes sense), nginx (bench/nginx.conf, 2 workers) and
# sse-relay (the release binary with bench/relay.json, --log-level warning). Scenarios:
#
#   passthrough  wrk -t1 -c64 -d10s --latency GET /hello: req/s, p99
#   distinct     1,000 SSE clients on 1,000 conversations, 20 events/s each, 10 s:
#                delivery p50/p99, proxy peak RSS, proxy CPU seconds
#   shared1k     1,000 clients on ONE conversation, 20 events/s, 10 s: backend stream
#                starts, delivery p50/p99, proxy peak RSS, CPU seconds
#   shared9k     9,000 clients on ONE conversation, 5 events/s, 15 s (9,000: through nginx
#                each client costs 2 descriptors, and 20,000 is the hard limit): starts,
#                delivery p99, peak RSS, CPU seconds
#   (the streams never end on their own; the seconds count from the moment the LAST client
#   got its response headers, then the load generator closes every connection. Every run
#   also reports events received and events missing or duplicated, per client sequence.)
#   idle         9,000 quiet SSE connections, one conversation each (`events=0&hold=1`):
#                resident bytes added per connection
#
# Delivery latency = receive time in the load generator (bench/sseload.js, 2 processes)
# minus the `t=<ms>` the backend stamps into each event; only events stamped after every
# client connected count. Peak RSS = the sum of VmHWM over the proxy's processes (nginx:
# master + workers) at the end of the scenario; CPU = utime + stime summed over them;
# CPU µs per delivered event = the proxy's CPU time from the moment every client is connected
# to 0.5 s before the generator disconnects, over the events delivered in that window (the
# steady state, without connection set-up and tear-down).
# Everything listens on 127.0.0.1 and every process started here is stopped on exit.
#
# Environment: SCALE (default 1) divides every client count (SCALE=10 for a quick check),
# SCENARIOS and TARGETS (space-separated) run a subset (SCENARIOS=shared9k TARGETS="nginx relay"),
# RELAY_BIN runs that relay binary instead of building one (to compare two builds),
# BENCH_OUT (default a new /tmp/sse-relay-bench.XXXX) keeps every raw output, PERF=1 records
# `perf record -g` of the relay during each stream scenario into $BENCH_OUT/perf-NAME.data.
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in swift node nginx wrk curl python3; do
  command -v "$tool" >/dev/null || { echo "compare.sh: needs $tool on PATH" >&2; exit 1; }
done
ulimit -n "$(ulimit -Hn)"
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt 20000 ]; then
  echo "compare.sh: open-files limit $(ulimit -n) < 20000; the 9,000-client scenarios will fail" >&2
fi

scale=${SCALE:-1}
distinct_clients=$((1000 / scale))
shared1k_clients=$((1000 / scale))
shared9k_clients=$((9000 / scale))
idle_clients=$((9000 / scale))

out=${BENCH_OUT:-$(mktemp -d /tmp/sse-relay-bench.XXXX)}
mkdir -p "$out"
work=$(mktemp -d /tmp/sse-relay-bench-work.XXXX)
chmod 755 "$work" # nginx workers run as nobody when started by root
results=$out/results.tsv
: >"$results"

started=() # every live pid this script started, stopped on exit (reaped ones are forgotten,
             # so a recycled pid never gets a signal)
forget() { local p kept=(); for p in "${started[@]}"; do [ "$p" = "$1" ] || kept+=("$p"); done; started=("${kept[@]}"); }
cleanup() {
  local pid
  for pid in "${started[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  sleep 0.3
  for pid in "${started[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -n "${RELAY_BIN:-}" ]; then
  relay_bin=$RELAY_BIN
else
  echo "building the release binary (swift build -c release --scratch-path .build-bench)…" >&2
  swift build -c release --scratch-path .build-bench --product sse-relay >"$out/build.log" 2>&1 \
    || { tail -30 "$out/build.log" >&2; exit 1; }
  relay_bin=$(swift build -c release --scratch-path .build-bench --show-bin-path)/sse-relay
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
record() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$results"; } # figure target value
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
load() { cut -d' ' -f1-3 /proc/loadavg; }

# Process figures, pure bash (no fork per sample). proxy_pids is set by start_proxy.
proxy_pids=()
status_sum() { # field (VmRSS, VmHWM) summed over proxy_pids, KiB
  local total=0 pid key value rest
  for pid in "${proxy_pids[@]}"; do
    [ -r "/proc/$pid/status" ] || continue
    while read -r key value rest; do
      [ "$key" = "$1:" ] && total=$((total + value)) && break
    done <"/proc/$pid/status"
  done
  echo "$total"
}
cpu_ticks() { # utime + stime summed over proxy_pids
  local total=0 pid line fields
  for pid in "${proxy_pids[@]}"; do
    [ -r "/proc/$pid/stat" ] || continue
    read -r line <"/proc/$pid/stat"
    read -ra fields <<<"${line##*) }" # fields after the command name: state is [0], utime [11]
    total=$((total + fields[11] + fields[12]))
  done
  echo "$total"
}
ticks=$(getconf CLK_TCK)

tcp_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_port() { # port, pid: wait until it accepts (5 s at most)
  local i
  for i in $(seq 500); do
    tcp_open "$1" && return 0
    kill -0 "$2" 2>/dev/null || { echo "process $2 died before listening" >&2; return 1; }
    sleep 0.01
  done
  echo "port $1 never opened" >&2; return 1
}

backend_pid=; backend_port=; proxy_pid=; target_port=
start_backend() {
  backend_port=$(free_port)
  FIXTURE_STANDALONE=1 node Tests/SSERelayTests/Fixtures/backend.js "$backend_port" </dev/null \
    >"$work/backend.out" 2>>"$out/backend.err" &
  backend_pid=$!; started+=("$backend_pid")
  wait_port "$backend_port" "$backend_pid"
}

start_proxy() { # target: direct | nginx | relay; sets target_port, proxy_pids
  local t0 name=$1
  proxy_pids=(); proxy_pid=
  case $name in
    direct) target_port=$backend_port ;;
    nginx)
      target_port=$(free_port)
      rm -rf "$work/nginx"; mkdir -p "$work/nginx"
      sed -e "s|@WORK@|$work/nginx|g" -e "s|@BACKEND_PORT@|$backend_port|g" -e "s|@LISTEN_PORT@|$target_port|g" \
        bench/nginx.conf >"$work/nginx/nginx.conf"
      t0=$(date +%s%N)
      nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -e "$work/nginx/nginx-error.log" &
      proxy_pid=$!; started+=("$proxy_pid")
      wait_port "$target_port" "$proxy_pid"
      startup_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
      local i
      for i in $(seq 100); do # the workers, children of the master
        mapfile -t proxy_pids < <(ps -o pid= --ppid "$proxy_pid" | tr -d ' ')
        [ "${#proxy_pids[@]}" -ge 2 ] && break; sleep 0.05
      done
      started+=("${proxy_pids[@]}")
      proxy_pids+=("$proxy_pid")
      ;;
    relay)
      target_port=$(free_port)
      admin_port=$(free_port)
      t0=$(date +%s%N)
      "$relay_bin" --config bench/relay.json --listen "127.0.0.1:$target_port" \
        --upstream "http://127.0.0.1:$backend_port" --admin "127.0.0.1:$admin_port" \
        --log-level warning 2>>"$out/relay.log" &
      proxy_pid=$!; started+=("$proxy_pid")
      wait_port "$target_port" "$proxy_pid"
      startup_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
      proxy_pids=("$proxy_pid")
      ;;
  esac
}

stop_all() {
  local pid
  for pid in $proxy_pid $backend_pid; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in $proxy_pid $backend_pid; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    forget "$pid"
  done
  # nginx workers: gone with their master (a TERM'd master waits for them)
  for pid in "${proxy_pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    forget "$pid"
  done
  proxy_pid=; backend_pid=; proxy_pids=()
}

json() { # file, JS expression on `r`
  node -e 'const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); const v = eval(process.argv[2]); console.log(v === null || v === undefined ? "-" : v)' "$1" "$2"
}

targets_for() {
  local all; case $1 in idle) all="nginx relay" ;; *) all="direct nginx relay" ;; esac
  local target; for target in $all; do if [[ " ${TARGETS:-$all} " == *" $target "* ]]; then echo "$target"; fi; done
}

# ---------------------------------------------------------------------------------------
scenario_passthrough() {
  local target=$1 file=$out/passthrough-$target.txt
  wrk -t1 -c64 -d10s --latency "http://127.0.0.1:$target_port/hello" >"$file" &
  local pid=$!; started+=("$pid") # in the background, so a signal to the script acts at once
  wait "$pid" || echo "wrk exited $?" >&2
  forget "$pid"
  record "pass-through /hello: req/s" "$target" "$(awk '/^Requests\/sec/ {printf "%.0f", $2}' "$file")"
  record "pass-through /hello: p99 ms" "$target" "$(awk '$1 == "99%" {
      v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v)
      printf "%.2f", (u == "us" ? v / 1000 : (u == "s" ? v * 1000 : v)) }' "$file")"
  local errors; errors=$(grep -E 'Socket errors|Non-2xx' "$file" || true)
  [ -z "$errors" ] || echo "passthrough $target: $errors" >&2
}

stream_run() { # name target clients conversations query hold-ms [perf]
  local name=$1 target=$2 clients=$3 conversations=$4 query=$5 hold=$6 perf=${7:-}
  local prefix="$name-$target-$RANDOM" file=$out/$name-$target.json
  local cpu0 cpu1 cpu_ready cpu_window perf_pid= ready=$work/ready-$name-$target
  local window_ms=$((hold - 500)) # the steady part of the hold: before the generator disconnects
  cpu0=$(cpu_ticks)
  if [ -n "$perf" ] && [ "$target" = relay ]; then
    perf record -g -F 499 -p "$proxy_pid" -o "$out/perf-$name.data" >/dev/null 2>"$out/perf-$name.log" &
    perf_pid=$!; started+=("$perf_pid")
  fi
  rm -f "$ready"
  node bench/sseload.js --url "http://127.0.0.1:$target_port/api/conversation/{conv}/stream?$query" \
    --clients "$clients" --conversations "$conversations" --prefix "$prefix" --hold-ms "$hold" --timeout-s 150 \
    --ready-file "$ready" >"$file" 2>>"$out/sseload.err" &
  local pid=$!; started+=("$pid")
  for _ in $(seq 1500); do [ -e "$ready" ] && break; kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  cpu_ready=$(cpu_ticks)
  sleep "$(awk -v ms="$window_ms" 'BEGIN { print ms / 1000 }')"
  cpu_window=$(cpu_ticks)
  wait "$pid" || echo "sseload $name-$target exited $?" >&2
  forget "$pid"
  cpu1=$(cpu_ticks)
  if [ -n "$perf_pid" ]; then kill -INT "$perf_pid"; wait "$perf_pid" 2>/dev/null || true; forget "$perf_pid"; fi
  # CPU per delivered event in the steady state: the proxy's CPU time over the window, over
  # the events stamped after every client connected (`measured`, spread evenly over the hold).
  stream_cpu_per_event=$(awk -v d=$((cpu_window - cpu_ready)) -v t="$ticks" -v m="$(json "$file" r.measured)" \
    -v w="$window_ms" -v h="$hold" 'BEGIN { if (m > 0) printf "%.1f", d / t * 1e6 / (m * w / h); else print "-" }')
  starts=-
  if [ "$conversations" = shared ]; then
    starts=$(curl -s "http://127.0.0.1:$backend_port/api/conversation/$prefix/stats" | node -pe 'JSON.parse(require("fs").readFileSync(0)).starts')
  fi
  if [ "$target" = relay ]; then
    curl -s "http://127.0.0.1:$admin_port/metrics" >"$out/$name-relay.metrics" || true
  fi
  stream_cpu=$(awk -v d=$((cpu1 - cpu0)) -v t="$ticks" 'BEGIN { printf "%.2f", d / t }')
  stream_hwm_mib=$(awk -v k="$(status_sum VmHWM)" 'BEGIN { printf "%.1f", k / 1024 }')
  [ "$target" = direct ] && stream_cpu=- && stream_hwm_mib=- && stream_cpu_per_event=-
  local complete
  complete=$(json "$file" '`${r.connected}/${r.clients} connected, ${r.events} events (per client ${r.eventsPerClient.min}..${r.eventsPerClient.max}), dup ${r.duplicates}, gaps ${r.gaps}, failed ${r.failed}${r.timedOut ? ", TIMED OUT" : ""}`')
  echo "  $name $target: $complete; p50 $(json "$file" r.latencyMs.p50) p99 $(json "$file" r.latencyMs.p99) ms; starts $starts; peak RSS $stream_hwm_mib MiB; CPU $stream_cpu s; CPU per event $stream_cpu_per_event µs; load $(load)" >&2
}

# Streams that never end on their own (hold=1, more events than the run needs); the load
# generator closes them HOLD ms after the last client got its response headers, so the
# measured window is the same for every target however long the ramp-up took. retry=2000
# makes the backend send its response headers at once (not with the first event).
endless="events=1000000&hold=1&stamp=1&retry=2000"

scenario_distinct() {
  local target=$1
  stream_run distinct "$target" "$distinct_clients" distinct "$endless&interval=50" 10000 "${PERF:-}"
  local f=$out/distinct-$target.json
  record "distinct 1k x 20 ev/s: delivery p50 ms" "$target" "$(json "$f" r.latencyMs.p50)"
  record "distinct 1k x 20 ev/s: delivery p99 ms" "$target" "$(json "$f" r.latencyMs.p99)"
  record "distinct 1k x 20 ev/s: proxy peak RSS MiB" "$target" "$stream_hwm_mib"
  record "distinct 1k x 20 ev/s: proxy CPU s" "$target" "$stream_cpu"
  record "distinct 1k x 20 ev/s: proxy CPU µs per delivered event" "$target" "$stream_cpu_per_event"
  record "distinct 1k x 20 ev/s: events received" "$target" "$(json "$f" r.events)"
  record "distinct 1k x 20 ev/s: events missing or duplicated" "$target" "$(json "$f" "r.gaps + r.duplicates")"
}

scenario_shared1k() {
  local target=$1
  stream_run shared1k "$target" "$shared1k_clients" shared "$endless&interval=50" 10000 "${PERF:-}"
  local f=$out/shared1k-$target.json
  record "shared 1k x 20 ev/s: backend stream starts" "$target" "$starts"
  record "shared 1k x 20 ev/s: delivery p50 ms" "$target" "$(json "$f" r.latencyMs.p50)"
  record "shared 1k x 20 ev/s: delivery p99 ms" "$target" "$(json "$f" r.latencyMs.p99)"
  record "shared 1k x 20 ev/s: proxy peak RSS MiB" "$target" "$stream_hwm_mib"
  record "shared 1k x 20 ev/s: proxy CPU s" "$target" "$stream_cpu"
  record "shared 1k x 20 ev/s: proxy CPU µs per delivered event" "$target" "$stream_cpu_per_event"
  record "shared 1k x 20 ev/s: events received" "$target" "$(json "$f" r.events)"
  record "shared 1k x 20 ev/s: events missing or duplicated" "$target" "$(json "$f" "r.gaps + r.duplicates")"
}

scenario_shared9k() {
  local target=$1
  stream_run shared9k "$target" "$shared9k_clients" shared "$endless&interval=200" 15000 "${PERF:-}"
  local f=$out/shared9k-$target.json
  record "shared 9k x 5 ev/s: backend stream starts" "$target" "$starts"
  record "shared 9k x 5 ev/s: delivery p50 ms" "$target" "$(json "$f" r.latencyMs.p50)"
  record "shared 9k x 5 ev/s: delivery p99 ms" "$target" "$(json "$f" r.latencyMs.p99)"
  record "shared 9k x 5 ev/s: proxy peak RSS MiB" "$target" "$stream_hwm_mib"
  record "shared 9k x 5 ev/s: proxy CPU s" "$target" "$stream_cpu"
  record "shared 9k x 5 ev/s: proxy CPU µs per delivered event" "$target" "$stream_cpu_per_event"
  record "shared 9k x 5 ev/s: events received" "$target" "$(json "$f" r.events)"
  record "shared 9k x 5 ev/s: events missing or duplicated" "$target" "$(json "$f" "r.gaps + r.duplicates")"
  record "shared 9k x 5 ev/s: connect time s" "$target" "$(json "$f" 'r.connectSeconds.toFixed(1)')"
}

scenario_idle() {
  local target=$1 prefix="idle-$target-$RANDOM"
  # Warm the proxy up first (one pass-through request, one short stream), then measure.
  curl -s -o /dev/null "http://127.0.0.1:$target_port/hello"
  curl -s -o /dev/null "http://127.0.0.1:$target_port/api/conversation/$prefix-warm/stream?events=2&interval=1"
  sleep 0.5
  local before held
  before=$(status_sum VmRSS)
  rm -f "$work/ready"
  node bench/sseload.js --url "http://127.0.0.1:$target_port/api/conversation/{conv}/stream?events=0&hold=1&retry=3000" \
    --clients "$idle_clients" --conversations distinct --prefix "$prefix" --hold-ms 4000 \
    --ready-file "$work/ready" --timeout-s 90 >"$out/idle-$target.json" 2>>"$out/sseload.err" &
  local pid=$!; started+=("$pid")
  for _ in $(seq 900); do [ -e "$work/ready" ] && break; kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  sleep 2 # let the proxy settle with every connection open
  held=$(status_sum VmRSS)
  wait "$pid" || echo "sseload idle-$target exited $?" >&2
  forget "$pid"
  local connected; connected=$(json "$out/idle-$target.json" r.connected)
  echo "  idle $target: $connected connected; RSS $before -> $held KiB; load $(load)" >&2
  record "idle SSE x $idle_clients: RSS before MiB" "$target" "$(awk -v k="$before" 'BEGIN { printf "%.1f", k / 1024 }')"
  record "idle SSE x $idle_clients: RSS held MiB" "$target" "$(awk -v k="$held" 'BEGIN { printf "%.1f", k / 1024 }')"
  record "idle SSE x $idle_clients: added RSS per connection, bytes" "$target" \
    "$(awk -v a="$before" -v b="$held" -v n="$connected" 'BEGIN { if (n > 0) printf "%.0f", (b - a) * 1024 / n; else print "-" }')"
}

# ---------------------------------------------------------------------------------------
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r); nginx $(nginx -v 2>&1 | sed 's|.*/||'); node $(node -v); relay $("$relay_bin" --version 2>/dev/null || echo ?)" | tee "$out/machine.txt" >&2
echo "load average at start: $(load)" | tee -a "$out/machine.txt" >&2
suite_start=$(now_ms)
for scenario in ${SCENARIOS:-passthrough distinct shared1k shared9k idle}; do
  echo "== $scenario (load $(load))" >&2
  echo "$scenario start load $(load)" >>"$out/machine.txt"
  for target in $(targets_for "$scenario"); do
    start_backend
    start_proxy "$target"
    if [ "$scenario" = passthrough ] && [ "$target" != direct ]; then
      record "startup to listening ms" "$target" "$startup_ms"
      record "idle RSS after start MiB" "$target" "$(awk -v k="$(status_sum VmRSS)" 'BEGIN { printf "%.1f", k / 1024 }')"
    fi
    "scenario_$scenario" "$target"
    stop_all
    if [ "$target" = nginx ] && [ -s "$work/nginx/nginx-error.log" ]; then
      cp "$work/nginx/nginx-error.log" "$out/nginx-error-$scenario.log"
    fi
  done
done
echo "load average at end: $(load); suite took $(( ($(now_ms) - suite_start) / 1000 )) s" | tee -a "$out/machine.txt" >&2

# ---------------------------------------------------------------------------------------
# The table: one row per figure, direct / nginx / sse-relay, and sse-relay ÷ nginx.
echo
{
echo "| figure | direct | nginx | sse-relay | sse-relay / nginx |"
echo "|---|---:|---:|---:|---:|"
awk -F'\t' '
  !($1 in seen) { seen[$1] = 1; order[++n] = $1 }
  { value[$1, $2] = $3 }
  function show(v) { return (v == "" ? "–" : v) }
  END {
    for (i = 1; i <= n; i++) {
      f = order[i]; d = value[f, "direct"]; g = value[f, "nginx"]; r = value[f, "relay"]
      ratio = "–"
      if (g ~ /^[0-9.]+$/ && r ~ /^[0-9.]+$/ && g + 0 > 0) ratio = sprintf("%.2f", r / g)
      printf "| %s | %s | %s | %s | %s |\n", f, show(d), show(g), show(r), ratio
    }
  }' "$results"
} | tee "$out/table.md"
echo
cat "$out/machine.txt"
echo "raw outputs: $out"
