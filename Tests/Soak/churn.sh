#!/usr/bin/env bash
# Connect-and-drop soak test: up to 5,000 clients that connect and drop in a loop
# for 30 s, then no growth in the relay's descriptors, its RSS back to its plateau, every
# counter consistent, and the relay still serving.
#
#   1. Starts the Node fixture backend (Tests/SSERelayTests/Fixtures/backend.js) and the relay
#      in front of it, on free ports of 127.0.0.1, with an admin listener.
#   2. Warm-up: a short churn (CHURN_WARMUP s) with the same load, so every conversation has
#      its generation, the allocator and the thread pools have grown to what this load needs,
#      and the upstream connections exist. Once the relay is idle again: the baseline of open
#      descriptors and the RSS plateau.
#   3. The churn (CHURN_DURATION s, default 30): Tests/Soak/churn.js keeps up to CHURN_CLIENTS
#      (default 5,000) clients alive, each a raw socket that plays one of a round-robin mix:
#      stream requests on 50 shared endless conversations dropped after the head or the first
#      event with a FIN or an RST, or reset right behind the request; resumes with a
#      Last-Event-ID (and stale ones); requests cut in the middle of the request line or of
#      the headers; pass-through GET /hello; connections that send nothing.
#   4. Checks, once every client is gone (each wait a bounded poll): the client and stream
#      gauges back to 0; descriptors back to the baseline; RSS back to the plateau; the
#      counters consistent with each other and with what the clients saw; the relay still
#      serving streams and pass-through; the relay alive, with no crash or error in its log.
#
# Usage: bash Tests/Soak/churn.sh      (after `swift build` or `swift test`; needs node)
#   SSE_RELAY_BIN    the relay binary (default .build/debug/sse-relay)
#   CHURN_DURATION   seconds of churn (default 30)
#   CHURN_WARMUP     seconds of warm-up churn (default 12)
#   CHURN_CLIENTS    clients alive at once, at most (default 5000)
#   CHURN_KEEP       a directory to keep the logs and figures in (default: a temporary one,
#                    removed on exit)
# Every process started here is stopped on exit, by its own pid; every wait is bounded.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

relay_bin=${SSE_RELAY_BIN:-.build/debug/sse-relay}
duration=${CHURN_DURATION:-30}
warmup=${CHURN_WARMUP:-12}
clients=${CHURN_CLIENTS:-5000}
conversations=50
prefix="soak$$"
query="events=1000000&interval=1000&hold=1" # endless, one event a second: see churn.js

command -v node >/dev/null 2>&1 || { echo "churn: node is not installed" >&2; exit 1; }
[ -x "$relay_bin" ] || { echo "churn: no relay binary at $relay_bin (swift build first)" >&2; exit 1; }
[ -d /proc/self/fd ] || { echo "churn: needs Linux /proc" >&2; exit 1; }

# Every client holds one descriptor in the load generator and one in the relay (each its own
# process, each with this limit), plus the relay's upstream connections and Node's own.
ulimit -n "$(ulimit -Hn)"
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((clients + 1024)) ]; then
  echo "churn: open-files limit $(ulimit -n) is below $((clients + 1024)) (CHURN_CLIENTS + 1024); raise the hard limit" >&2
  exit 1
fi

began=$(date +%s%N)
if [ -n "${CHURN_KEEP:-}" ]; then
  work=$CHURN_KEEP
  mkdir -p "$work"
else
  work=$(mktemp -d /tmp/sse-relay-churn.XXXX)
fi
pids=()
status=1
failures=0

cleanup() {
  local pid i
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    for ((i = 0; i < 30; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [ "$status" -ne 0 ]; then
    for log in "$work"/relay.log "$work"/fixture.log "$work"/churn-*.err; do
      [ -s "$log" ] || continue
      echo "--- last lines of $(basename "$log")"
      tail -n 20 "$log"
    done
  fi
  if [ -z "${CHURN_KEEP:-}" ]; then rm -rf "$work"; else echo "churn: logs and figures kept in $work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}
pass() { echo "ok:   $*"; }
die() {
  echo "churn: $*" >&2
  exit 1
}
now_s() { awk -v t="$(date +%s%N)" -v b="$began" 'BEGIN { printf "%.1f", (t - b) / 1e9 }'; }

free_port() {
  node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });'
}

# A small HTTP probe on Node's http module (the tests need nothing but node):
#   probe get URL            prints the status, then the body; 5 s at most
#   probe stream URL N       reads an event stream until N `data:` lines or its end; prints
#                            JSON {status, events, endMarker, ended}; 10 s at most
cat >"$work/probe.js" <<'EOF'
'use strict';
const http = require('http');
const [mode, url, wanted] = process.argv.slice(2);
const limit = mode === 'stream' ? 10000 : 5000;
const timer = setTimeout(() => { console.error(`probe: no answer from ${url} within ${limit} ms`); process.exit(1); }, limit);
const request = http.get(url, { agent: false }, (response) => {
  let body = '';
  let events = 0;
  response.setEncoding('utf8');
  const report = (ended) => {
    clearTimeout(timer);
    if (mode === 'get') process.stdout.write(`${response.statusCode}\n${body}`);
    else process.stdout.write(JSON.stringify({ status: response.statusCode, events, endMarker: /\nid: [^\n]*\.end\n/.test(body), ended }) + '\n');
    process.exit(0);
  };
  response.on('data', (chunk) => {
    body += chunk;
    if (mode === 'stream') {
      events = (body.match(/^data:/gm) || []).length;
      if (events >= Number(wanted)) { report(false); }
    }
  });
  response.on('end', () => report(true));
});
request.on('error', (error) => { console.error(`probe: ${url}: ${error.message}`); process.exit(1); });
EOF
probe() { node "$work/probe.js" "$@"; }

# The relay's /proc figures.
relay_fds() { local n; n=$(ls "/proc/$relay_pid/fd" 2>/dev/null | wc -l) && echo "$n"; }
relay_rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$relay_pid/status" 2>/dev/null || echo 0; }
relay_alive() { # our child: a dead one lingers as a zombie until reaped, so look at its state
  [ -r "/proc/$relay_pid/stat" ] || return 1
  local state
  state=$(sed 's/^.*) //' "/proc/$relay_pid/stat" | cut -d' ' -f1)
  [ "$state" != Z ] && [ "$state" != X ]
}

# Prometheus text from the admin listener into a file.
scrape() { # file
  local out
  out=$(probe get "http://127.0.0.1:$admin_port/metrics") || return 1
  [ "${out%%$'\n'*}" = 200 ] || return 1
  printf '%s\n' "${out#*$'\n'}" >"$1"
}
# The sum of the samples whose name and labels start with a literal prefix (a name, or a
# name and its first labels: 'sse_relay_requests_total{kind="stream",'), as an integer; 0 when
# none match.
metric() { # file prefix
  PREFIX=$2 awk '$0 !~ /^#/ && index($1, ENVIRON["PREFIX"]) == 1 { sum += $NF } END { printf "%d\n", sum + 0 }' "$1"
}
# A figure from a churn.js JSON report.
json() { # file expression-on-r
  node -e 'const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); const v = eval(process.argv[2]); console.log(typeof v === "object" ? JSON.stringify(v) : v)' "$1" "$2"
}

# Polls `condition` (a shell command) every 0.25 s for up to `seconds`; returns its status.
wait_until() { # seconds command…
  local seconds=$1 i
  shift
  for ((i = 0; i < seconds * 4; i++)); do
    "$@" && return 0
    relay_alive || return 1
    sleep 0.25
  done
  "$@"
}

# --- 1. The fixture backend and the relay -------------------------------------------------
# Every client of the soak comes from 127.0.0.1, which the relay's per-client budgets would
# take for one very busy user: the soak stands for thousands of users, so it lifts them.
cat >"$work/relay.json" <<'EOF'
{ "limits": { "maxLingeringPerClient": 100000, "streamStartBurstPerClient": 100000 } }
EOF
FIXTURE_STANDALONE=1 node Tests/SSERelayTests/Fixtures/backend.js 0 </dev/null >"$work/fixture.out" 2>"$work/fixture.log" &
pids+=($!)
backend_port=""
for ((i = 0; i < 100; i++)); do
  backend_port=$(grep -o '"port": *[0-9]*' "$work/fixture.out" 2>/dev/null | grep -o '[0-9]*$' || true)
  [ -n "$backend_port" ] && break
  sleep 0.1
done
[ -n "$backend_port" ] || die "the fixture backend did not start"

# Free ports can be taken between the check and the bind: a relay that exits at once is
# retried with new ports, three times at most.
relay_pid=""
for ((attempt = 0; attempt < 3; attempt++)); do
  listen_port=$(free_port)
  admin_port=$(free_port)
  "$relay_bin" --config "$work/relay.json" --listen "127.0.0.1:$listen_port" --upstream "http://127.0.0.1:$backend_port" \
    --admin "127.0.0.1:$admin_port" --log-level warning 2>"$work/relay.log" &
  relay_pid=$!
  pids+=("$relay_pid")
  up=false
  for ((i = 0; i < 100; i++)); do # 10 s: a debug build starts in well under a second
    relay_alive || break
    if out=$(probe get "http://127.0.0.1:$admin_port/healthz" 2>/dev/null) && [ "${out%%$'\n'*}" = 200 ] \
      && (exec 3<>"/dev/tcp/127.0.0.1/$listen_port") 2>/dev/null; then
      up=true
      break
    fi
    sleep 0.1
  done
  $up && break
  kill -KILL "$relay_pid" 2>/dev/null || true
  wait "$relay_pid" 2>/dev/null || true
done
$up || die "the relay did not start (log: $(tail -n 3 "$work/relay.log" | tr '\n' ' '))"
echo "churn: backend 127.0.0.1:$backend_port; relay 127.0.0.1:$listen_port (pid $relay_pid, admin 127.0.0.1:$admin_port);" \
  "open-files limit $(ulimit -n); $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"

# A background sampler of the relay's descriptors and RSS, every 0.5 s, for the peaks in the
# report (bounded: 2,400 samples, 20 minutes).
(
  for ((i = 0; i < 2400; i++)); do
    [ -d "/proc/$relay_pid" ] || break
    echo "$(ls "/proc/$relay_pid/fd" 2>/dev/null | wc -l) $(awk '/^VmRSS:/ { print $2 }' "/proc/$relay_pid/status" 2>/dev/null)"
    sleep 0.5
  done
) >"$work/samples.txt" 2>/dev/null &
pids+=($!)

churn() { # name seconds
  local name=$1 seconds=$2 pid rc=0
  # churn.js stops itself after seconds + its grace; `timeout` is the backstop.
  timeout --kill-after=5 $((seconds + 60)) node Tests/Soak/churn.js --port "$listen_port" --duration "$seconds" \
    --clients "$clients" --conversations "$conversations" --prefix "$prefix" --query "$query" \
    >"$work/churn-$name.json" 2>"$work/churn-$name.err" &
  pid=$!
  pids+=("$pid")
  wait "$pid" || rc=$?
  [ "$rc" -eq 0 ] || fail "churn.js ($name) exited $rc: $(head -c 600 "$work/churn-$name.err" 2>/dev/null) $(head -c 600 "$work/churn-$name.json" 2>/dev/null)"
  [ -s "$work/churn-$name.json" ] || die "churn.js ($name) reported nothing"
  echo "  $name: $(json "$work/churn-$name.json" '`${r.started} clients in ${r.runSeconds} s (${r.clientsPerSecond}/s started while launching, ${r.cyclesPerSecond}/s over the run), peak ${r.peakAlive} alive, peak ${r.peakUnanswered} unanswered, ${r.finsSent} FIN + ${r.rstsSent} RST sent; responses ${JSON.stringify(r.responses)}; modes ${JSON.stringify(r.modes)}; errors ${JSON.stringify(r.errors)}; timeouts ${r.timeouts}`')"
}

gauges_idle() { # every client gone: the relay's own view
  scrape "$work/m.txt" || return 1
  [ "$(metric "$work/m.txt" 'sse_relay_client_connections')" -eq 0 ] \
    && [ "$(metric "$work/m.txt" 'sse_relay_stream_clients')" -eq 0 ]
}

# Waits until the descriptor count has not changed for 6 s (longer than the upstream pool's
# idle timeout of 4 s and the 2 s lingering close, the relay's own timers that close
# descriptors after the clients are gone), 40 s at most; echoes the count.
settled_fds() {
  local last=-1 same=0 i n
  for ((i = 0; i < 160; i++)); do
    n=$(relay_fds)
    if [ "$n" -eq "$last" ]; then same=$((same + 1)); else same=0; last=$n; fi
    [ "$same" -ge 24 ] && break
    sleep 0.25
  done
  echo "$last"
}

# --- 2. Warm-up, baseline -------------------------------------------------------------------
# Each conversation's generation starts with a client that stays for its first event, as a
# user's would; from then on it is worth lingering for. (A generation whose clients all leave
# before any event reached one is cancelled at once, so the churn's early resets would
# otherwise restart these completions, and the counts below rely on each running throughout.)
primed=0
for ((c = 0; c < conversations; c++)); do
  probe stream "http://127.0.0.1:$listen_port/api/conversation/$prefix-$c/stream?$query" 1 >"$work/prime-$c.json" &
done
all_primed() { [ "$(cat "$work"/prime-*.json 2>/dev/null | grep -c '"events":1,')" -eq "$conversations" ]; }
wait_until 20 all_primed ||
  die "priming the $conversations conversations failed: $(cat "$work"/prime-*.json | head -c 300)"
primed=$conversations
echo "churn: warm-up, ${warmup} s"
churn warmup "$warmup"
wait_until 30 gauges_idle || die "after the warm-up the relay did not become idle: $(grep -E '^sse_relay_(client_connections|stream_clients) ' "$work/m.txt" | tr '\n' ' ')"
base_fds=$(settled_fds)
base_rss=$(relay_rss_kib)
scrape "$work/metrics-warmup.txt" || die "no /metrics after the warm-up"
base_replay=$(metric "$work/metrics-warmup.txt" 'sse_relay_replay_buffer_bytes')
echo "  baseline at $(now_s) s: $base_fds open descriptors, RSS plateau $((base_rss / 1024)) MiB ($base_rss KiB), replay buffers $base_replay bytes"

# --- 3. The churn ---------------------------------------------------------------------------
echo "churn: ${duration} s of churn, up to $clients clients alive"
samples_from=$(wc -l <"$work/samples.txt")
churn main "$duration"
peak=$(tail -n +"$((samples_from + 1))" "$work/samples.txt" | awk '$1 > f { f = $1 } $2 > r { r = $2 } END { printf "%d %d", f, r }')
echo "  during the churn: peak $(echo "$peak" | cut -d' ' -f1) open descriptors, peak RSS $(($(echo "$peak" | cut -d' ' -f2) / 1024)) MiB"

# --- 4. Checks ------------------------------------------------------------------------------
echo "churn: checks"
relay_died() { # sets died: the relay's exit status (it is our child: reaped here, not in a
  # subshell) and the end of its log
  local code=0 signal=""
  wait "$relay_pid" 2>/dev/null || code=$?
  [ "$code" -le 128 ] || signal=" (signal $((code - 128)))"
  died="exit status $code$signal; log: $(tail -n 5 "$work/relay.log" | tr '\n' ' ')"
}
if ! relay_alive; then
  relay_died
  die "the relay died during the churn: $died"
fi

# Gauges: every client has gone, so the relay must count no connection and no stream client.
# They fall as the relay processes the closes; 30 s is far more than it takes.
if wait_until 30 gauges_idle; then
  pass "sse_relay_client_connections and sse_relay_stream_clients back to 0"
else
  fail "gauges not back to 0 after 30 s: $(grep -E '^sse_relay_(client_connections|stream_clients) ' "$work/m.txt" | tr '\n' ' ')"
fi

# Descriptors: the churn opened and closed tens of thousands of connections; what stays open
# afterwards must be what stayed open after the warm-up (listeners, epoll and eventfds of the
# event loops, the 50 upstream streams). In every run here both counts were equal. Margin
# +20: pooled upstream connections of /hello that the last moments of the churn opened and
# whose 4 s idle timer had not fired at the sample (the settle wait covers it; the margin
# covers a machine so busy that the timer runs late). A leak of even 0.1% of the connections
# is more than 20.
fd_margin=20
fds_ok() { [ "$(relay_fds)" -le $((base_fds + fd_margin)) ]; }
wait_until 30 fds_ok || true
after_fds=$(settled_fds)
if [ "$after_fds" -le $((base_fds + fd_margin)) ]; then
  pass "open descriptors $after_fds after the churn, baseline $base_fds (limit +$fd_margin)"
else
  fail "open descriptors grew: $after_fds after the churn, baseline $base_fds (limit +$fd_margin); $(ls -l "/proc/$relay_pid/fd" 2>/dev/null | awk '{ print $NF }' | sed 's/:\[[0-9]*\]//' | sort | uniq -c | tr '\n' ' ')"
fi

# RSS: sampled when idle, after the descriptors settled. The plateau is the idle RSS after the
# warm-up, which ran the same load, so the allocator already holds what it needs. glibc keeps
# freed memory in its per-thread arenas, so the idle RSS after a run sits near the peak of
# that run, and the peak follows the most clients alive at once (the relay's RSS rose by about
# 10 KiB per live connection during the ramp-up here). So the limit is the plateau plus:
#   - the growth of the replay buffers of the 50 endless streams, which the relay keeps by
#     design (sse_relay_replay_buffer_bytes, counted with per-event overhead);
#   - 12 KiB for every client alive at the peak of the churn beyond the peak of the warm-up
#     (a machine whose load drops mid-run reaches more clients alive than its warm-up did);
#   - a margin of 25% of the plateau or 24 MiB, whichever is more.
# Measured with the debug build on a busy 2-core machine: plateau 51-63 MiB, after the churn
# 2-6 MiB above it. A leak that keeps a connection's channel, pipeline and handlers (several
# KiB) over the 12,000-20,000 clients cycled here is 50 MiB or more; a leaked socket is caught
# by the descriptor check anyway.
after_rss=$(relay_rss_kib)
scrape "$work/metrics-after.txt" || die "no /metrics after the churn"
after_replay=$(metric "$work/metrics-after.txt" 'sse_relay_replay_buffer_bytes')
replay_growth_kib=$(((after_replay - base_replay) / 1024))
[ "$replay_growth_kib" -ge 0 ] || replay_growth_kib=0
rss_margin_kib=$((base_rss / 4))
[ "$rss_margin_kib" -ge $((24 * 1024)) ] || rss_margin_kib=$((24 * 1024))
extra_alive=$(($(json "$work/churn-main.json" 'r.peakAlive') - $(json "$work/churn-warmup.json" 'r.peakAlive')))
[ "$extra_alive" -ge 0 ] || extra_alive=0
concurrency_kib=$((extra_alive * 12))
rss_limit=$((base_rss + rss_margin_kib + replay_growth_kib + concurrency_kib))
main_clients=$(json "$work/churn-main.json" 'r.started')
per_client=$(((after_rss - base_rss) * 1024 / (main_clients > 0 ? main_clients : 1)))
if [ "$after_rss" -le "$rss_limit" ]; then
  pass "RSS $((after_rss / 1024)) MiB after the churn ($after_rss KiB), plateau $((base_rss / 1024)) MiB (limit $((rss_limit / 1024)) MiB: +$((rss_margin_kib / 1024)) MiB, +$((replay_growth_kib / 1024)) MiB of replay buffer growth, +$((concurrency_kib / 1024)) MiB for $extra_alive more clients alive than in the warm-up); $per_client bytes per client cycled at most"
else
  fail "RSS did not come back: $after_rss KiB after the churn, plateau $base_rss KiB, limit $rss_limit KiB (+$rss_margin_kib KiB margin, +$replay_growth_kib KiB replay buffer growth, +$concurrency_kib KiB for $extra_alive more clients alive than in the warm-up)"
fi

# Counters. m is the scrape after the churn; the clients' own counts are summed over the
# warm-up and the churn (the relay counts since it started). Nothing else talked to the proxy
# port, so the two sides must agree exactly.
m=$work/metrics-after.txt
both() { # the sum of a churn.js figure over the warm-up and the churn
  echo $(($(json "$work/churn-warmup.json" "$1") + $(json "$work/churn-main.json" "$1")))
}
check_eq() { # description actual expected
  if [ "$2" -eq "$3" ]; then pass "$1: $2"; else fail "$1: $2, expected $3"; fi
}
outcome() { metric "$m" "sse_relay_stream_requests_total{outcome=\"$1\"}"; }
stream_requests=$(metric "$m" 'sse_relay_stream_requests_total{')
stream_completed=$(metric "$m" 'sse_relay_requests_total{kind="stream",')
stream_completed_200=$(metric "$m" 'sse_relay_requests_total{kind="stream",status="200"}')
passthrough_200=$(metric "$m" 'sse_relay_requests_total{kind="passthrough",status="200"}')
passthrough_all=$(metric "$m" 'sse_relay_requests_total{kind="passthrough",')
invalid_400=$(metric "$m" 'sse_relay_requests_total{kind="invalid",status="400"}')
invalid_all=$(metric "$m" 'sse_relay_requests_total{kind="invalid",')
client_stream_heads=$((primed + $(both 'Object.entries(r.behaviours).filter(([n]) => /^(stream|resume|stale)/.test(n)).reduce((s, [, b]) => s + Object.values(b.responses).reduce((a, c) => a + c, 0), 0)')))
client_started=$(($(both 'r.modes.started || 0') + primed))
client_joined=$(both 'r.modes.joined || 0')
client_resumed=$(both 'r.modes.resumed || 0')
client_early=$(both 'r.behaviours["stream-sent-rst"].started')
client_hello=$(both 'r.helloBodiesOk')
client_cut=$(both 'r.behaviours["half-line-fin"].started + r.behaviours["half-head-rst"].started')
client_cut_400=$(both 'Object.entries(r.behaviours).filter(([n]) => /^half/.test(n)).reduce((s, [, b]) => s + (b.responses["400"] || 0), 0)')
started_total=$(metric "$m" 'sse_relay_upstream_streams_started_total')

# README: every stream request is in exactly one outcome, counted when its answer starts, and
# requests_total counts a stream request when its response ends; with every client gone each
# one has ended, so the two totals match.
check_eq "stream requests by outcome (sum) = stream requests completed (requests_total kind=stream)" "$stream_requests" "$stream_completed"
# A stream request whose client left before its head completes with status 0 and is counted
# abandoned: the two must match, and every other stream request completed with 200 (no 204,
# no refusal).
stream_completed_0=$(metric "$m" 'sse_relay_requests_total{kind="stream",status="0"}')
check_eq "stream requests completed with 200 + with none (0)" $((stream_completed_200 + stream_completed_0)) "$stream_completed"
check_eq "stream requests completed with none (0) = outcome abandoned" "$stream_completed_0" "$(outcome abandoned)"
# Every stream client of the mix sends a whole request and drops only after the response head,
# except those that reset right behind the request (stream-sent-rst): the relay may have read
# and answered that request before the reset (then it joined), or not. So the relay answered
# the heads the clients saw, plus at most one per early reset.
in_range() { # description actual low high
  if [ "$2" -ge "$3" ] && [ "$2" -le "$4" ]; then pass "$1: $2 (between $3 and $4)"; else fail "$1: $2, expected between $3 and $4"; fi
}
in_range "stream requests counted vs stream response heads the clients saw (+ early resets)" \
  "$stream_requests" "$client_stream_heads" $((client_stream_heads + client_early))
# The X-SSE-Relay header says started/joined/resumed; a stale Last-Event-ID is a replay miss
# that joins (or starts), counted as replay_miss rather than joined; an early reset joins.
in_range "outcome started + joined + replay_miss vs clients told started or joined (+ early resets)" \
  $(($(outcome started) + $(outcome joined) + $(outcome replay_miss))) $((client_started + client_joined)) \
  $((client_started + client_joined + client_early))
check_eq "outcome resumed = clients told resumed" "$(outcome resumed)" "$client_resumed"
# abandoned: the client left before the upstream answered, which only an early reset does, and
# only while its conversation's upstream is starting: during the warm-up. Once every upstream
# answered (the warm-up), a request joins with its head at once, so the churn abandons none.
in_range "outcome abandoned (early resets while the upstreams started)" "$(outcome abandoned)" 0 "$client_early"
abandoned_warmup=$(metric "$work/metrics-warmup.txt" 'sse_relay_stream_requests_total{outcome="abandoned"}')
check_eq "outcome abandoned during the churn (every upstream had answered)" $(($(outcome abandoned) - abandoned_warmup)) 0
for o in no_content rejected over_limit; do
  check_eq "outcome $o (the backend answers at once and never fails, nothing ends)" "$(outcome "$o")" 0
done
# Collapsing holds under churn: the 50 conversations' endless upstreams outlive every client
# (upstreamLingerSeconds 300), so each started exactly once and all are still open.
check_eq "upstream streams started = conversations" "$started_total" "$conversations"
check_eq "active generations = conversations" "$(metric "$m" 'sse_relay_active_generations')" "$conversations"
# Pass-through: every GET /hello was read to its end, so the relay completed each with 200.
check_eq "pass-through 200s = /hello responses the clients read in full" "$passthrough_200" "$client_hello"
check_eq "pass-through requests with another status" $((passthrough_all - passthrough_200)) 0
# A request cut short: 400 when the relay sees EOF in the middle of it (FIN); an RST may kill
# the connection before the relay reads anything, so that one may go uncounted. Each 400 the
# clients saw was counted; no other refusal (408, 431) happened.
if [ "$invalid_400" -ge "$client_cut_400" ] && [ "$invalid_400" -le "$client_cut" ]; then
  pass "invalid requests answered 400: $invalid_400 (clients saw $client_cut_400, of $client_cut cut requests)"
else
  fail "invalid requests answered 400: $invalid_400, expected between the $client_cut_400 the clients saw and the $client_cut cut requests"
fi
check_eq "invalid requests with another status (408, 431)" $((invalid_all - invalid_400)) 0
check_eq "upstream errors" "$(metric "$m" 'sse_relay_upstream_errors_total')" 0
check_eq "connections refused (limits.maxConnections is derived: about half the open-files limit)" "$(metric "$m" 'sse_relay_connections_refused_total')" 0
check_eq "limit hits" "$(metric "$m" 'sse_relay_limit_hits_total')" 0
delivered=$(metric "$m" 'sse_relay_events_delivered_total')
replayed=$(metric "$m" 'sse_relay_events_replayed_total')
if [ "$replayed" -le "$delivered" ] && [ "$delivered" -gt 0 ]; then
  pass "events delivered $delivered >= replayed $replayed"
else
  fail "events delivered $delivered, replayed $replayed"
fi
# The fixture sends events without ids, so the relay gives each one an id. The upstreams are
# still streaming while /metrics is rendered, so the two counters may be a few events apart.
received=$(metric "$m" 'sse_relay_events_received_total')
injected=$(metric "$m" 'sse_relay_ids_injected_total')
if [ "$injected" -le "$received" ] && [ $((received - injected)) -le 10 ]; then
  pass "ids injected $injected = events received $received (within 10 for events in flight)"
else
  fail "ids injected $injected, events received $received"
fi

# The load generator's own account: every client finished in time, nothing unexpected.
for name in warmup main; do
  f=$work/churn-$name.json
  [ "$(json "$f" 'r.incomplete')" = false ] || fail "$name: clients still alive at the end of churn.js: $(json "$f" 'r.stillAlive')"
  [ "$(json "$f" 'r.timeouts')" -eq 0 ] || fail "$name: $(json "$f" 'r.timeouts') clients timed out: $(json "$f" 'r.unexpected')"
  [ "$(json "$f" 'Object.keys(r.unexpected).length')" -eq 0 ] || fail "$name: unexpected answers: $(json "$f" 'r.unexpected')"
  [ "$(json "$f" 'Object.keys(r.errors).length')" -eq 0 ] || fail "$name: socket errors: $(json "$f" 'r.errors')"
done
# The churn must have been a churn: at least 50 clients a second over the run (a debug relay on
# a busy 2-core machine cycles several hundred; a stuck generator or relay cycles far fewer).
main_started=$(json "$work/churn-main.json" 'r.started')
if [ "$main_started" -ge $((duration * 50)) ]; then
  pass "clients cycled: $main_started in $duration s"
else
  fail "only $main_started clients cycled in $duration s (at least $((duration * 50)) expected)"
fi

# Still serving: a new conversation streams to its end (3 events, then the end marker), a
# client joins one of the churned conversations and gets events, and /hello answers.
fresh=$(probe stream "http://127.0.0.1:$listen_port/api/conversation/$prefix-fresh/stream?events=3&interval=10" 100) || fresh="probe failed"
if [ "$(json <(echo "$fresh") 'r.status === 200 && r.events === 3 && r.endMarker && r.ended' 2>/dev/null)" = true ]; then
  pass "a fresh stream after the churn: $fresh"
else
  fail "a fresh stream after the churn: $fresh"
fi
joined=$(probe stream "http://127.0.0.1:$listen_port/api/conversation/$prefix-0/stream?$query" 2) || joined="probe failed"
if [ "$(json <(echo "$joined") 'r.status === 200 && r.events >= 2' 2>/dev/null)" = true ]; then
  pass "joining a churned conversation: $joined"
else
  fail "joining a churned conversation: $joined"
fi
hello=$(probe get "http://127.0.0.1:$listen_port/hello") || hello="probe failed"
if [ "$hello" = $'200\nhello world' ]; then pass "GET /hello: 200 hello world"; else fail "GET /hello: $hello"; fi

# Alive, and nothing in its log but the expected: at --log-level warning a healthy churn logs
# nothing at all (every line is JSON; a crash writes plain text: "Fatal error", a backtrace).
if relay_alive; then
  pass "the relay (pid $relay_pid) is alive"
else
  relay_died
  fail "the relay (pid $relay_pid) died: $died"
fi
log_lines=$(wc -l <"$work/relay.log")
bad_lines=$(grep -cv '^{' "$work/relay.log" || true)
error_lines=$(grep -cE '"level":"(error|critical)"' "$work/relay.log" || true)
if [ "$bad_lines" -eq 0 ] && [ "$error_lines" -eq 0 ]; then
  pass "relay log: $log_lines lines, none an error or a crash$( [ "$log_lines" -eq 0 ] || echo "; levels: $(grep -o '"level":"[a-z]*"' "$work/relay.log" | sort | uniq -c | tr '\n' ' ')")"
else
  fail "relay log: $bad_lines lines that are not JSON, $error_lines at error or critical: $(grep -vE '^\{' "$work/relay.log" | head -n 5 | tr '\n' ' ') $(grep -E '"level":"(error|critical)"' "$work/relay.log" | head -n 3 | tr '\n' ' ')"
fi

elapsed=$(now_s)
if [ "$failures" -eq 0 ]; then
  status=0
  echo "churn: passed in $elapsed s"
else
  echo "churn: FAILED ($failures checks) after $elapsed s"
fi
exit "$status"
