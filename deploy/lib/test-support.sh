# shellcheck shell=bash
# Functions shared by the shell drivers of the integration tests and the cluster bench:
# deploy/test-scale-out.sh, deploy/test-cluster.sh and bench/cluster-load.sh. Sourced, from the
# repository's root (`source deploy/lib/test-support.sh`); it defines functions only, sets no
# options and runs nothing. NAME, the first argument of most, prefixes their error messages
# ("NAME: ...", on stderr), e.g. test-cluster.
#
#   require_tools NAME TOOL...     exits 1 ("NAME: TOOL is not installed") unless every TOOL is
#                                  on the PATH.
#   free_port                      prints a TCP port free on 127.0.0.1 (asks the kernel, via node).
#   address_in NAME FILE KEY       waits up to 10 s (100 × 0.1 s) for a JSON log line's
#                                  "KEY":"127.0.0.1:PORT" in FILE and prints the first such
#                                  address; returns 1 with a message otherwise.
#   wait_until COMMAND...          runs COMMAND every 0.1 s until it succeeds, at most 100 times
#                                  (10 s); returns 1 if it never did.
#   fixture_port_in WORK           sets fixture_port from the fixture's WORK/fixture.out; true
#                                  once it is known (start_fixture's probe).
#   start_fixture NAME WORK        starts the Node fixture backend (Tests/SSERelayTests/Fixtures/
#                                  backend.js, standalone, on a port of its choosing; output in
#                                  WORK/fixture.out, stderr in WORK/fixture.log), appends its pid
#                                  to the caller's `pids` array and sets `fixture_port` once it
#                                  reports its port (within 10 s); exits 1 otherwise. Call it
#                                  directly, not in $(...), so that the pid is the caller's child.
#   wait_for_socket NAME SOCKET WHAT
#                                  waits up to 10 s for the Unix socket SOCKET to exist; exits 1
#                                  ("NAME: WHAT did not start") otherwise.
#   print_result NAME STATUS BEGAN prints "NAME: passed in S.mmm s" when STATUS is 0, else
#                                  "NAME: FAILED after S.mmm s", with the time since BEGAN
#                                  (a `date +%s%N` reading).

require_tools() {
  local name=$1 tool
  shift
  for tool in "$@"; do
    command -v "$tool" >/dev/null 2>&1 || { echo "$name: $tool is not installed" >&2; exit 1; }
  done
}

free_port() {
  node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });'
}

address_in() {
  local name=$1 file=$2 key=$3 i found
  for ((i = 0; i < 100; i++)); do
    found=$(grep -o "\"$key\":\"127\.0\.0\.1:[0-9]*\"" "$file" 2>/dev/null | head -n 1 | cut -d'"' -f4 || true)
    if [ -n "$found" ]; then echo "$found"; return 0; fi
    sleep 0.1
  done
  echo "$name: no \"$key\" address in $file after 10 s" >&2
  return 1
}

wait_until() {
  local i
  for ((i = 0; i < 100; i++)); do
    "$@" && return 0
    sleep 0.1
  done
  return 1
}

# start_fixture's probe: sets fixture_port from WORK/fixture.out; true once it is there.
fixture_port_in() {
  fixture_port=$(grep -o '"port": *[0-9]*' "$1/fixture.out" 2>/dev/null | grep -o '[0-9]*$' || true)
  [ -n "$fixture_port" ]
}

start_fixture() {
  local name=$1 work=$2
  # Standalone: it does not wait on our stdin.
  FIXTURE_STANDALONE=1 node Tests/SSERelayTests/Fixtures/backend.js 0 >"$work/fixture.out" 2>"$work/fixture.log" &
  pids+=($!)
  fixture_port=""
  wait_until fixture_port_in "$work" || { echo "$name: the fixture backend did not start" >&2; exit 1; }
}

wait_for_socket() {
  local name=$1 socket=$2 what=$3
  wait_until test -S "$socket" || [ -S "$socket" ] || { echo "$name: $what did not start" >&2; exit 1; }
}

print_result() {
  local name=$1 status=$2 began=$3 duration
  duration=$(( ($(date +%s%N) - began) / 1000000 ))
  if [ "$status" -eq 0 ]; then
    echo "$name: passed in $((duration / 1000)).$(printf %03d $((duration % 1000))) s"
  else
    echo "$name: FAILED after $((duration / 1000)).$(printf %03d $((duration % 1000))) s"
  fi
}
