#!/usr/bin/env bash
# sse-relay next to nginx and next to the machine's floor, in ONE run, on the same backend
# (figures in docs/benchmarks.md).
#
#   bench/compare.sh                 # about 7 minutes (plus the release build the first time)
#
# Prerequisites (Debian 12): swift (on PATH, unless RELAY_BIN is given), node (18+), nginx (the
# Debian package; the system service need not run: the script starts its own instances from
# bench/nginx.conf and bench/fast-upstream.conf), wrk, curl, python3 (free ports), a C
# compiler as `cc` (for the floor; without one that target is skipped), and an open-files hard
# limit of at least 20,000 (the script raises `ulimit -n` to the hard limit). Run it as a user
# that may start nginx (root, or any user: nginx then runs its workers as that user).
#
# It builds the relay and the NIO floor in release mode (`swift build -c release --scratch-path
# .build-bench`, never the default .build) and the fan-out floor (`cc -O2 -pthread
# bench/fanout-floor.c`, into its work directory), then for every scenario and target starts
# a FRESH upstream, a fresh proxy in front of it, and the load, so each figure (peak RSS
# included) belongs to that scenario alone. The upstream is the backend fixture (Tests/SSERelayTests/Fixtures/backend.js), except
# in passthrough-fast and passthrough-3. Targets:
#
#   direct   the upstream itself, where it makes sense (in passthrough-3, the first of the three)
#   floor    in the shared streams and the storm, bench/fanout-floor.c, the physical limit of
#            this machine: one upstream read framed once, one write per client, nothing else
#            (no replay, so its late joiners miss the events before they joined; counted
#            apart); in pass-through, distinct and idle, bench/NIOFloor, the framework's
#            floor: a minimal reverse proxy on NIO's own HTTP/1 pipelines, one upstream
#            connection per client connection, bodies passed on as they come, nothing of the
#            relay's. Not in passthrough-3: the NIO floor takes exactly one upstream
#   nginx    bench/nginx.conf, 2 workers (in passthrough-3 its upstream block lists the three
#            servers, least_conn)
#   relay    sse-relay: the release binary with bench/relay.json, --log-level warning (in
#            passthrough-3 with the three as upstream.servers)
#
# Scenarios (the default runs them all, in this order):
#
#   passthrough-fast  wrk -t1 -c64 -d10s --latency GET /hello, the upstream an nginx answering
#                a fixed 12-byte body (bench/fast-upstream.conf, one process), so the proxy's
#                own cost shows: req/s, p50, p99, proxy CPU µs per request, proxy peak RSS
#   passthrough-3  the same with THREE such upstreams (each its own nginx, prefix directory
#                and port) behind one proxy: nginx balancing them with least_conn, the relay
#                with its least-outstanding choice among upstream.servers (both count per
#                worker, both take ties in turn); no floor target. Also each upstream's share of
#                the requests, read from its stub_status counter before and after the wrk run
#   passthrough  the same in front of the Node backend fixture (whose own cost dominates)
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
#   storm        one conversation already streaming (one client, 1 event/s), then 5,000
#                clients connect to it at once (1,000 connects in flight per generator
#                process, 2 processes): proxy CPU µs per connection set-up (the proxy's CPU
#                from just before the burst until every client has its response headers,
#                over the clients), the burst's wall time, and CPU per connection from connect
#                to close (1 s held, then every client disconnects)
#   idle         9,000 quiet SSE connections, one conversation each (`events=0&hold=1`):
#                resident bytes added per connection
#
# Delivery latency = receive time in the load generator (bench/sseload.js, 2 processes)
# minus the `t=<ms>` the backend stamps into each event; only events stamped after every
# client connected count. Peak RSS = the sum of VmHWM over the proxy's processes (nginx:
# master + workers; never the fast upstream) at the end of the scenario; CPU = utime + stime
# summed over them; CPU µs per delivered event = the proxy's CPU time from the moment every
# client is connected to 0.5 s before the generator disconnects, over the events delivered
# in that window (the steady state, without connection set-up and tear-down); CPU µs per
# request = the proxy's CPU over the wrk run, over the requests wrk completed.
# Everything listens on 127.0.0.1 and every process started here is stopped on exit. Listen
# backlogs: 4,096 for nginx and the relay, 65,535 asked by the floor, all capped by
# net.core.somaxconn (printed with the machine line; the script never changes it).
#
# Environment: SCALE (default 1) divides every client count (SCALE=10 for a quick check),
# SCENARIOS and TARGETS (space-separated) run a subset (SCENARIOS=shared9k TARGETS="nginx relay"),
# RELAY_BIN runs that relay binary instead of building one (to compare two builds; the NIO
# floor is then NIO_FLOOR_BIN, or skipped),
# BENCH_OUT (default a new /tmp/sse-relay-bench.XXXX) keeps every raw output, PERF=1 records
# `perf record -g` of the relay during each stream scenario (the storm: during the burst) into
# $BENCH_OUT/perf-NAME.data.
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in node nginx wrk curl python3; do
  command -v "$tool" >/dev/null || { echo "compare.sh: needs $tool on PATH" >&2; exit 1; }
done
[ -n "${RELAY_BIN:-}" ] || command -v swift >/dev/null || { echo "compare.sh: needs swift on PATH (or RELAY_BIN)" >&2; exit 1; }
ulimit -n "$(ulimit -Hn)"
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt 20000 ]; then
  echo "compare.sh: open-files limit $(ulimit -n) < 20000; the 9,000-client scenarios will fail" >&2
fi

scale=${SCALE:-1}
distinct_clients=$((1000 / scale))
shared1k_clients=$((1000 / scale))
shared9k_clients=$((9000 / scale))
idle_clients=$((9000 / scale))
storm_clients=$((5000 / scale))
scenarios=${SCENARIOS:-passthrough-fast passthrough-3 passthrough distinct shared1k shared9k storm idle}

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

# Which floor a scenario measures against: the NIO floor where every client has a stream (or a
# request) of its own, the C fan-out floor where clients share one. passthrough-3 has none: the
# NIO floor proxies to exactly one upstream (its second argument), so it cannot stand beside
# two balancers of three servers.
nio_floor_scenario() { [[ ($1 == passthrough* && $1 != passthrough-3) || $1 == distinct || $1 == idle ]]; }

# The NIO floor, when a selected scenario runs it.
nio_floor_bin=${NIO_FLOOR_BIN:-}
wants_nio_floor=
for scenario in $scenarios; do nio_floor_scenario "$scenario" && wants_nio_floor=1; done
if [ -z "$nio_floor_bin" ] && [ -z "${RELAY_BIN:-}" ] && [ -n "$wants_nio_floor" ] &&
  [[ " ${TARGETS:-floor} " == *" floor "* ]]; then
  swift build -c release --scratch-path .build-bench --product sse-relay-nio-floor >>"$out/build.log" 2>&1 \
    || { tail -30 "$out/build.log" >&2; exit 1; }
  nio_floor_bin=$(swift build -c release --scratch-path .build-bench --show-bin-path)/sse-relay-nio-floor
fi

# The floor, when a selected scenario runs it.
floor_bin=
for scenario in $scenarios; do
  case $scenario in shared1k | shared9k | storm) ;; *) continue ;; esac
  [[ " ${TARGETS:-floor} " == *" floor "* ]] || break
  if ! command -v cc >/dev/null; then
    echo "compare.sh: no C compiler (cc): the floor target is skipped" >&2
  elif cc -O2 -pthread -o "$work/fanout-floor" bench/fanout-floor.c >"$out/floor-build.log" 2>&1; then
    floor_bin=$work/fanout-floor
  else
    echo "compare.sh: bench/fanout-floor.c did not compile (see $out/floor-build.log): the floor target is skipped" >&2
  fi
  break
done

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

# backend_port is the (first) upstream's; backend_ports and backend_pids hold every upstream
# of the scenario (three in passthrough-3, one elsewhere). No backend pid is ever a proxy pid.
backend_port=; backend_ports=(); backend_pids=(); proxy_pid=; target_port=
start_fast_upstream() { # directory: an nginx of its own (bench/fast-upstream.conf), in its own prefix directory
  local dir=$1 port pid
  port=$(free_port)
  rm -rf "$dir"; mkdir -p "$dir"
  sed -e "s|@WORK@|$dir|g" -e "s|@LISTEN_PORT@|$port|g" bench/fast-upstream.conf >"$dir/nginx.conf"
  nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/nginx-error.log" </dev/null 2>>"$out/fast-upstream.err" &
  pid=$!; started+=("$pid"); backend_pids+=("$pid"); backend_ports+=("$port")
  wait_port "$port" "$pid"
}
start_backend() { # scenario: the upstream(s) of its targets
  backend_ports=(); backend_pids=()
  case $1 in
    passthrough-fast) start_fast_upstream "$work/fast-upstream" ;;
    passthrough-3) # three alike, each with its own prefix directory, pid file, logs and port
      local i
      for i in 1 2 3; do start_fast_upstream "$work/fast-upstream-$i"; done
      ;;
    *)
      local port; port=$(free_port)
      FIXTURE_STANDALONE=1 node Tests/SSERelayTests/Fixtures/backend.js "$port" </dev/null \
        >"$work/backend.out" 2>>"$out/backend.err" &
      local pid=$!; started+=("$pid"); backend_pids+=("$pid"); backend_ports+=("$port")
      wait_port "$port" "$pid"
      ;;
  esac
  backend_port=${backend_ports[0]}
}

# passthrough-3's upstream block for nginx: bench/nginx.conf's one `server` line becomes
# least_conn and the three servers. least_conn is nginx's closest to the relay's choice: the
# fewest active connections to a server (relative to its weight), ties by weighted round-robin;
# with no `zone` in the block each worker counts on its own, as the relay counts per event loop.
# It must come before `keepalive` (nginx requires the balancing method first), which is where
# the server line stands. The keepalive 64 and keepalive_requests of bench/nginx.conf stay as
# they are: the idle connections kept per worker for the whole group, as for its one server.
nginx_upstream_servers() {
  local port lines="least_conn;"
  for port in "${backend_ports[@]}"; do lines+="\\n        server 127.0.0.1:$port;"; done
  echo "$lines"
}

start_proxy() { # target: direct | floor | nginx | relay; sets target_port, proxy_pids
  local t0 name=$1
  proxy_pids=(); proxy_pid=
  case $name in
    direct) target_port=$backend_port ;;
    nginx)
      target_port=$(free_port)
      rm -rf "$work/nginx"; mkdir -p "$work/nginx"
      if [ "$scenario" = passthrough-3 ]; then
        sed -e "s|@WORK@|$work/nginx|g" -e "s|@LISTEN_PORT@|$target_port|g" \
          -e "s|server 127.0.0.1:@BACKEND_PORT@;|$(nginx_upstream_servers)|" \
          bench/nginx.conf >"$work/nginx/nginx.conf"
        # bench/nginx.conf changed shape if the server line was not found: say so, not a wrong figure
        [ "$(grep -c '^ *server 127\.0\.0\.1:[0-9]*;' "$work/nginx/nginx.conf")" = 3 ] \
          || { echo "compare.sh: could not put three servers into bench/nginx.conf's upstream block" >&2; exit 1; }
        cp "$work/nginx/nginx.conf" "$out/nginx-3.conf"
      else
        sed -e "s|@WORK@|$work/nginx|g" -e "s|@BACKEND_PORT@|$backend_port|g" -e "s|@LISTEN_PORT@|$target_port|g" \
          bench/nginx.conf >"$work/nginx/nginx.conf"
      fi
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
    floor)
      target_port=$(free_port)
      t0=$(date +%s%N)
      if nio_floor_scenario "$scenario"; then
        "$nio_floor_bin" "$target_port" "$backend_port" 2>>"$out/floor.log" &
      else
        "$floor_bin" "$target_port" "$backend_port" 2>>"$out/floor.log" &
      fi
      proxy_pid=$!; started+=("$proxy_pid")
      wait_port "$target_port" "$proxy_pid"
      startup_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
      proxy_pids=("$proxy_pid")
      ;;
    relay)
      target_port=$(free_port)
      admin_port=$(free_port)
      # bench/relay.json, its one upstream given by --upstream; in passthrough-3 a copy of it
      # with the three as upstream.servers (weight 1 each, like nginx's servers; --upstream would
      # make the first the only one). Its upstream.maxConnections 256 is then split among the 2
      # loops and the 3 servers, 42 each, more than the 32 wrk connections a loop serves.
      local config=bench/relay.json upstream_flag=(--upstream "http://127.0.0.1:$backend_port")
      if [ "$scenario" = passthrough-3 ]; then
        config=$work/relay-3.json; upstream_flag=()
        node -e 'const fs = require("fs"); const c = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
          c.upstream = { ...c.upstream, servers: process.argv.slice(3).map((p) => `http://127.0.0.1:${p}`) };
          fs.writeFileSync(process.argv[2], JSON.stringify(c, null, 2))' bench/relay.json "$config" "${backend_ports[@]}"
        cp "$config" "$out/relay-3.json"
      fi
      t0=$(date +%s%N)
      "$relay_bin" --config "$config" --listen "127.0.0.1:$target_port" \
        "${upstream_flag[@]}" --admin "127.0.0.1:$admin_port" \
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
  for pid in $proxy_pid "${backend_pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in $proxy_pid "${backend_pids[@]}"; do
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
  proxy_pid=; backend_pids=(); backend_ports=(); proxy_pids=()
}

json() { # file, JS expression on `r`
  node -e 'const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); const v = eval(process.argv[2]); console.log(v === null || v === undefined ? "-" : v)' "$1" "$2"
}

targets_for() {
  local all target
  case $1 in
    idle) all="floor nginx relay" ;;
    storm) all="floor nginx relay" ;;
    shared1k | shared9k) all="direct floor nginx relay" ;;
    passthrough-3) all="direct nginx relay" ;; # no floor: the NIO floor takes one upstream
    passthrough* | distinct) all="direct floor nginx relay" ;;
    *) all="direct nginx relay" ;;
  esac
  local floor=$floor_bin
  ! nio_floor_scenario "$1" || floor=$nio_floor_bin
  for target in $all; do
    [[ " ${TARGETS:-$all} " == *" $target "* ]] || continue
    [ "$target" != floor ] || [ -n "$floor" ] || continue
    echo "$target"
  done
}

# ---------------------------------------------------------------------------------------
# Requests an upstream nginx has served (bench/fast-upstream.conf's stub_status): the third
# number of its third line, which counts the status request itself too.
upstream_requests() { # port
  curl -s --max-time 5 "http://127.0.0.1:$1/upstream-status" | awk 'NR == 3 { print $3 }'
}
wrk_ms() { # wrk output file, percentile label (50%, 99%): that latency in ms
  awk -v p="$2" '$1 == p {
      v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v)
      printf "%.2f", (u == "us" ? v / 1000 : (u == "s" ? v * 1000 : v)) }' "$1"
}

pass_run() { # name label target
  local name=$1 label=$2 target=$3 file=$out/$1-$3.txt cpu0 cpu1 requests
  # With several upstreams, each one's request counter before and after the run. Counted by
  # the upstreams themselves (stub_status: a counter, no access log to write, so the upstreams
  # cost the same as in passthrough-fast), not by the proxies.
  local -a before=() after=()
  local port
  if [ "${#backend_ports[@]}" -gt 1 ]; then
    for port in "${backend_ports[@]}"; do before+=("$(upstream_requests "$port")"); done
  fi
  cpu0=$(cpu_ticks)
  wrk -t1 -c64 -d10s --latency "http://127.0.0.1:$target_port/hello" >"$file" &
  local pid=$!; started+=("$pid") # in the background, so a signal to the script acts at once
  wait "$pid" || echo "wrk exited $?" >&2
  forget "$pid"
  cpu1=$(cpu_ticks)
  requests=$(awk '/ requests in / {print $1}' "$file")
  record "$label: req/s" "$target" "$(awk '/^Requests\/sec/ {printf "%.0f", $2}' "$file")"
  record "$label: p50 ms" "$target" "$(wrk_ms "$file" 50%)"
  record "$label: p99 ms" "$target" "$(wrk_ms "$file" 99%)"
  local per_request=- hwm_mib=-
  if [ "$target" != direct ]; then
    per_request=$(awk -v d=$((cpu1 - cpu0)) -v t="$ticks" -v n="${requests:-0}" \
      'BEGIN { if (n > 0) printf "%.1f", d / t * 1e6 / n; else print "-" }')
    hwm_mib=$(awk -v k="$(status_sum VmHWM)" 'BEGIN { printf "%.1f", k / 1024 }')
  fi
  record "$label: proxy CPU µs per request" "$target" "$per_request"
  record "$label: proxy peak RSS MiB" "$target" "$hwm_mib"
  # Each upstream's share of the requests it served during the run (minus the later status
  # request), in %; direct sends everything to the first, so only the proxies' are recorded.
  local shares=
  if [ "${#before[@]}" -gt 1 ] && [ "$target" != direct ]; then
    for port in "${backend_ports[@]}"; do after+=("$(upstream_requests "$port")"); done
    local i total=0 counts=()
    for i in "${!before[@]}"; do
      counts+=($((after[i] - before[i] - 1))); total=$((total + counts[i]))
    done
    for i in "${!counts[@]}"; do
      record "$label: upstream $((i + 1)) share of requests %" "$target" \
        "$(awk -v c="${counts[i]}" -v n="$total" 'BEGIN { if (n > 0) printf "%.1f", c * 100 / n; else print "-" }')"
    done
    shares="; upstreams served ${counts[*]} (sum $total)"
    if [ "$target" = relay ]; then # its own count by server (since start), health failures, rotation
      curl -s "http://127.0.0.1:$admin_port/metrics" >"$out/$name-relay.metrics" || true
      local metric own=
      for metric in requests_total failures_total up; do
        own+=" $metric"
        for port in "${backend_ports[@]}"; do
          own+=" $(awk -v k="sse_relay_upstream_server_$metric{server=\"http://127.0.0.1:$port\"}" \
            '$1 == k { v = $2 } END { print (v == "" ? "?" : v) }' "$out/$name-relay.metrics")"
        done
      done
      shares+="; relay's metrics by server:$own"
    fi
  fi
  echo "  $name $target: $(awk '/^Requests\/sec/ {printf "%.0f", $2}' "$file") req/s, $requests requests; p50 $(wrk_ms "$file" 50%) p99 $(wrk_ms "$file" 99%) ms; proxy CPU $per_request µs per request; peak RSS $hwm_mib MiB$shares; load $(load)" >&2
  local errors; errors=$(grep -E 'Socket errors|Non-2xx' "$file" || true)
  [ -z "$errors" ] || echo "$name $target: $errors" >&2
}
scenario_passthrough_fast() { pass_run passthrough-fast "pass-through /hello, fast upstream" "$1"; }
scenario_passthrough_3() { pass_run passthrough-3 "pass-through /hello, 3 fast upstreams" "$1"; }
scenario_passthrough() { pass_run passthrough "pass-through /hello, Node backend" "$1"; }

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
  complete=$(json "$file" '`${r.connected}/${r.clients} connected, ${r.events} events (per client ${r.eventsPerClient.min}..${r.eventsPerClient.max}), dup ${r.duplicates}, gaps ${r.gaps} (${r.skippedBeforeFirst} before a first event), failed ${r.failed}${r.timedOut ? ", TIMED OUT" : ""}`')
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
  record "shared 1k x 20 ev/s: of which before a client's first event" "$target" "$(json "$f" r.skippedBeforeFirst)"
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
  record "shared 9k x 5 ev/s: of which before a client's first event" "$target" "$(json "$f" r.skippedBeforeFirst)"
  record "shared 9k x 5 ev/s: connect time s" "$target" "$(json "$f" 'r.connectSeconds.toFixed(1)')"
}

# A burst of clients joining one conversation that already streams. The first client keeps the
# conversation open (1 event/s, so the events the burst's clients receive meanwhile cost
# little next to their set-up, and a replaying proxy has few events to replay); the burst's
# generator opens every connection at once, as far as the listen backlogs allow.
scenario_storm() {
  local target=$1 prefix="storm-$target-$RANDOM" file=$out/storm-$target.json
  local first_ready=$work/ready-storm-first ready=$work/ready-storm cpu0 cpu_ready cpu1
  local url="http://127.0.0.1:$target_port/api/conversation/{conv}/stream?events=1000000&hold=1&stamp=1&retry=2000&interval=1000"
  rm -f "$first_ready" "$ready"
  node bench/sseload.js --url "$url" --clients 1 --workers 1 --prefix "$prefix" --hold-ms 150000 \
    --timeout-s 150 --ready-file "$first_ready" >"$out/storm-first-$target.json" 2>>"$out/sseload.err" &
  local first=$!; started+=("$first")
  for _ in $(seq 150); do [ -e "$first_ready" ] && break; kill -0 "$first" 2>/dev/null || break; sleep 0.1; done
  sleep 1.5 # the conversation streams: one event has gone by
  local perf_pid=
  if [ -n "${PERF:-}" ] && [ "$target" = relay ]; then # the burst only
    perf record -g -F 499 -p "$proxy_pid" -o "$out/perf-storm.data" >/dev/null 2>"$out/perf-storm.log" &
    perf_pid=$!; started+=("$perf_pid")
    sleep 0.5
  fi
  cpu0=$(cpu_ticks)
  node bench/sseload.js --url "$url" --clients "$storm_clients" --prefix "$prefix" --connect-concurrency 1000 \
    --hold-ms 1000 --timeout-s 120 --ready-file "$ready" >"$file" 2>>"$out/sseload.err" &
  local pid=$!; started+=("$pid")
  for _ in $(seq 12000); do [ -e "$ready" ] && break; kill -0 "$pid" 2>/dev/null || break; sleep 0.01; done
  cpu_ready=$(cpu_ticks)
  if [ -n "$perf_pid" ]; then kill -INT "$perf_pid"; wait "$perf_pid" 2>/dev/null || true; forget "$perf_pid"; fi
  wait "$pid" || echo "sseload storm-$target exited $?" >&2
  forget "$pid"
  cpu1=$(cpu_ticks)
  local starts hwm_mib per_setup per_connection complete
  starts=$(curl -s "http://127.0.0.1:$backend_port/api/conversation/$prefix/stats" | node -pe 'JSON.parse(require("fs").readFileSync(0)).starts')
  kill -TERM "$first" 2>/dev/null || true; wait "$first" 2>/dev/null || true; forget "$first"
  hwm_mib=$(awk -v k="$(status_sum VmHWM)" 'BEGIN { printf "%.1f", k / 1024 }')
  per_setup=$(awk -v d=$((cpu_ready - cpu0)) -v t="$ticks" -v n="$(json "$file" r.connected)" \
    'BEGIN { if (n > 0) printf "%.1f", d / t * 1e6 / n; else print "-" }')
  per_connection=$(awk -v d=$((cpu1 - cpu0)) -v t="$ticks" -v n="$(json "$file" r.connected)" \
    'BEGIN { if (n > 0) printf "%.1f", d / t * 1e6 / n; else print "-" }')
  complete=$(json "$file" '`${r.connected}/${r.clients} connected, ${r.events} events (per client ${r.eventsPerClient.min}..${r.eventsPerClient.max}), dup ${r.duplicates}, gaps ${r.gaps} (${r.skippedBeforeFirst} before a first event), failed ${r.failed} ${JSON.stringify(r.errors)}${r.timedOut ? ", TIMED OUT" : ""}`')
  echo "  storm $target: $complete; burst $(json "$file" 'r.rampSeconds.toFixed(2)') s; starts $starts; CPU per set-up $per_setup µs, connect to close $per_connection µs; peak RSS $hwm_mib MiB; load $(load)" >&2
  local label="storm of $storm_clients"
  record "$label: proxy CPU µs per connection set-up" "$target" "$per_setup"
  record "$label: proxy CPU µs per connection, connect to close" "$target" "$per_connection"
  record "$label: burst wall time s" "$target" "$(json "$file" 'r.rampSeconds.toFixed(2)')"
  record "$label: clients connected" "$target" "$(json "$file" r.connected)"
  record "$label: backend stream starts" "$target" "$starts"
  record "$label: proxy peak RSS MiB" "$target" "$hwm_mib"
  record "$label: events missing or duplicated" "$target" "$(json "$file" "r.gaps + r.duplicates")"
  record "$label: of which before a client's first event" "$target" "$(json "$file" r.skippedBeforeFirst)"
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
somaxconn=$(cat /proc/sys/net/core/somaxconn)
echo "net.core.somaxconn $somaxconn (caps every listen backlog); load average at start: $(load)" | tee -a "$out/machine.txt" >&2
[ "$somaxconn" -ge 4096 ] || echo "compare.sh: net.core.somaxconn $somaxconn < 4096: the storm's connects may wait for SYN retries" >&2
suite_start=$(now_ms)
declare -A startup_recorded=()
for scenario in $scenarios; do
  declare -F "scenario_${scenario//-/_}" >/dev/null || { echo "compare.sh: no scenario $scenario" >&2; exit 1; }
  echo "== $scenario (load $(load))" >&2
  echo "$scenario start load $(load)" >>"$out/machine.txt"
  for target in $(targets_for "$scenario"); do
    start_backend "$scenario"
    start_proxy "$target"
    if [[ $scenario == passthrough* ]] && [ "$target" != direct ] && [ -z "${startup_recorded[$target]:-}" ]; then
      startup_recorded[$target]=1 # the first pass-through scenario: a proxy that served nothing yet
      record "startup to listening ms" "$target" "$startup_ms"
      record "idle RSS after start MiB" "$target" "$(awk -v k="$(status_sum VmRSS)" 'BEGIN { printf "%.1f", k / 1024 }')"
    fi
    "scenario_${scenario//-/_}" "$target"
    stop_all
    if [ "$target" = nginx ] && [ -s "$work/nginx/nginx-error.log" ]; then
      cp "$work/nginx/nginx-error.log" "$out/nginx-error-$scenario.log"
    fi
  done
done
echo "load average at end: $(load); suite took $(( ($(now_ms) - suite_start) / 1000 )) s" | tee -a "$out/machine.txt" >&2

# ---------------------------------------------------------------------------------------
# The table: one row per figure, direct / floor / nginx / sse-relay, sse-relay ÷ nginx and
# sse-relay ÷ floor.
echo
{
echo "| figure | direct | floor | nginx | sse-relay | sse-relay / nginx | sse-relay / floor |"
echo "|---|---:|---:|---:|---:|---:|---:|"
awk -F'\t' '
  !($1 in seen) { seen[$1] = 1; order[++n] = $1 }
  { value[$1, $2] = $3 }
  function show(v) { return (v == "" || v == "-" ? "–" : v) }
  function ratio(r, b) {
    if (!(b ~ /^[0-9.]+$/ && r ~ /^[0-9.]+$/ && b + 0 > 0)) return "–"
    return sprintf(r / b >= 0.01 || r == 0 ? "%.2f" : "%.1g", r / b)
  }
  END {
    for (i = 1; i <= n; i++) {
      f = order[i]; d = value[f, "direct"]; l = value[f, "floor"]; g = value[f, "nginx"]; r = value[f, "relay"]
      printf "| %s | %s | %s | %s | %s | %s | %s |\n", f, show(d), show(l), show(g), show(r), ratio(r, g), ratio(r, l)
    }
  }' "$results"
} | tee "$out/table.md"
echo
cat "$out/machine.txt"
echo "raw outputs: $out"
