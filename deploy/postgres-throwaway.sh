#!/usr/bin/env bash
# A throwaway PostgreSQL server for tests: a fresh cluster in a directory of the caller's, on
# 127.0.0.1 and a port the OS chose, tuned to start fast rather than to keep data (fsync off).
# The tests of the cluster directory (a table in PostgreSQL as the directory of stream
# ownership) start one through Tests/SSERelayTests/TestSupport/ThrowawayPostgres.swift.
#
# Usage:
#   bash deploy/postgres-throwaway.sh start DIR [--until-stdin-closes]
#   bash deploy/postgres-throwaway.sh stop DIR [--remove]
#   bash deploy/postgres-throwaway.sh resume DIR [--until-stdin-closes]
#   bash deploy/postgres-throwaway.sh check
#
# start  Creates a cluster in DIR (made if missing; it must not hold one already) and starts
#        it. Prints one line on stdout, the server's URL without the password,
#        postgres://relay@127.0.0.1:PORT/relay, and writes the same to DIR/url. The user
#        `relay` (the cluster's superuser, so a test may create what it needs) logs in over TCP
#        with scram-sha-256 and the password in DIR/password (mode 600, no newline); over the
#        unix socket in DIR/socket it needs none. The database `relay` is empty (and there is
#        no `postgres` database: `relay` is initdb's, renamed, for speed). Exits non-zero
#        with the end of the server's log on stderr when the server does not start, and leaves
#        no server running then.
#        --until-stdin-closes: the caller holds this script's stdin (a pipe); when that pipe
#        closes (the caller closed it, exited or crashed), the server is stopped and DIR
#        removed. A test process uses it so that no server outlives it, however it ends.
# stop   Stops the server of DIR (fast mode: open sessions are ended) and waits until it is
#        gone; nothing to do when DIR holds no running server. --remove then removes DIR.
# resume Starts the server of DIR again after a stop without --remove: the same cluster, data,
#        password and port (so a client's URL still holds; a test of a database outage stops
#        the server, then resumes it). Prints the URL as start does; nothing to start when it
#        runs already. Exits non-zero with the end of the log on stderr when it does not start
#        (such as when something else took the port meanwhile). --until-stdin-closes: as for
#        start (stop ended the watcher start had).
# check  Prints the directory of the server binaries and exits 0, or says on stderr what is
#        missing and exits 69.
#
# Files in DIR: data/ (the cluster), socket/ (the unix socket), log (initdb's and the server's
# output), password, url, and watcher.pid while --until-stdin-closes watches.
#
# The binaries: $PG_BINDIR when set, else the newest Debian /usr/lib/postgresql/*/bin, else
# `pg_config --bindir`, else initdb's directory on PATH. CI installs Debian's postgresql-15
# (.ci/run). PostgreSQL refuses to run as root: as root, the server runs as the `postgres` user
# (made by Debian's package) and DIR is handed to it, so DIR's parents must be searchable by
# that user (anything under /tmp is).
set -euo pipefail

script=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")
server_user=postgres

fail() {
  echo "postgres-throwaway: $*" >&2
  exit 1
}

usage() {
  echo "usage: bash deploy/postgres-throwaway.sh start DIR [--until-stdin-closes] | stop DIR [--remove]" \
    "| resume DIR [--until-stdin-closes] | check" >&2
  exit 64
}

# The directory holding initdb, pg_ctl and psql, on stdout; exits 69 (EX_UNAVAILABLE) when
# there is none, or when the server could not run as a user of its own here.
find_bindir() {
  local candidate=""
  if [ -n "${PG_BINDIR:-}" ]; then
    candidate=$PG_BINDIR
  else
    # The newest version with a server (a client-only package has a bin/ without initdb).
    for candidate in $(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin 2>/dev/null | sort -V -r); do
      [ -x "$candidate/initdb" ] && break
      candidate=""
    done
    if [ -z "$candidate" ]; then
      if command -v pg_config >/dev/null 2>&1; then candidate=$(pg_config --bindir 2>/dev/null || true); fi
      if { [ -z "$candidate" ] || [ ! -x "$candidate/initdb" ]; } && command -v initdb >/dev/null 2>&1; then
        candidate=$(dirname "$(command -v initdb)")
      fi
    fi
  fi
  local tool
  for tool in initdb pg_ctl psql; do
    if [ -z "$candidate" ] || [ ! -x "$candidate/$tool" ]; then
      echo "postgres-throwaway: no PostgreSQL server binaries (initdb, pg_ctl, psql)${PG_BINDIR:+ in PG_BINDIR=$PG_BINDIR}:" \
        "install Debian's postgresql-15 (apt-get install -y --no-install-recommends postgresql-15; .ci/run does)," \
        "or set PG_BINDIR to their directory" >&2
      exit 69
    fi
  done
  if [ "$(id -u)" -eq 0 ]; then
    if ! id -u "$server_user" >/dev/null 2>&1; then
      echo "postgres-throwaway: running as root, and there is no '$server_user' user to run the server as" \
        "(Debian's postgresql-15 package makes it)" >&2
      exit 69
    fi
    if ! command -v runuser >/dev/null 2>&1; then
      echo "postgres-throwaway: running as root, and there is no runuser (util-linux) to run the server as '$server_user'" >&2
      exit 69
    fi
  fi
  echo "$candidate"
}

# Runs a command as the user the server runs as: `postgres` when this script runs as root.
as_server_user() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u "$server_user" -- "$@"
  else
    "$@"
  fi
}

# A port that was free on 127.0.0.1 a moment ago (bound with port 0, read back, released).
free_port() {
  if command -v node >/dev/null 2>&1; then
    node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });'
  elif command -v python3 >/dev/null 2>&1; then
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
  else
    fail "needs node or python3 to find a free port"
  fi
}

# Closes the sockets and pipes above stderr that this shell inherited from its caller; the
# processes that outlive this script (the server, the watcher) run it first. Swift's Foundation
# learns that a child process exited when a socket it handed the child closes, so a server that
# inherited that socket kept a test waiting for this script's exit until the server's end.
close_inherited_descriptors() {
  local path fd
  for path in /proc/"$BASHPID"/fd/*; do
    fd=${path##*/}
    [ "$fd" -gt 2 ] || continue
    case "$(readlink "$path" 2>/dev/null || true)" in
      socket:* | pipe:*) eval "exec $fd>&-" ;;
    esac
  done
}

# Whether DIR's server is running: pg_ctl status says 0 when it is, 3 when not, 4 without a
# cluster; it also sees a postmaster.pid left by a killed server as not running.
is_running() {
  local dir=$1
  [ -f "$dir/data/postmaster.pid" ] || return 1
  as_server_user "$bindir/pg_ctl" status -D "$dir/data" >/dev/null 2>&1
}

stop_server() {
  local dir=$1
  is_running "$dir" || return 0
  if as_server_user "$bindir/pg_ctl" stop -D "$dir/data" -m fast -w -t 30 -s >&2; then
    return 0
  fi
  # Fast mode did not finish in 30 s: immediate mode, then the postmaster's pid by force.
  as_server_user "$bindir/pg_ctl" stop -D "$dir/data" -m immediate -w -t 10 -s >&2 || true
  if is_running "$dir"; then
    local pid
    pid=$(head -n 1 "$dir/data/postmaster.pid" 2>/dev/null || true)
    if [ -n "$pid" ]; then kill -KILL "$pid" 2>/dev/null || true; fi
    sleep 0.2
    ! is_running "$dir" || fail "the server of $dir (pid $pid) does not stop"
  fi
}

# The watcher of --until-stdin-closes: reads stdin (which nothing writes) until it closes,
# then stops the server and removes DIR. It ignores the signals a terminal sends the caller's
# process group (a non-interactive shell's background job ignores SIGINT already), so Ctrl-C
# on `swift test` ends the tests and then this stops the server, rather than ending this.
# `<&0` is needed: without job control, bash gives a background job /dev/null as its stdin.
start_watcher() {
  local dir=$1
  (
    close_inherited_descriptors
    trap '' HUP INT QUIT
    while read -r _; do :; done
    rm -f "$dir/watcher.pid"
    bash "$script" stop "$dir" --remove
  ) <&0 >/dev/null 2>&1 &
  echo $! >"$dir/watcher.pid"
}

stop_watcher() {
  local dir=$1 pid
  [ -f "$dir/watcher.pid" ] || return 0
  pid=$(cat "$dir/watcher.pid" 2>/dev/null || true)
  rm -f "$dir/watcher.pid"
  if [ -n "$pid" ]; then kill -TERM "$pid" 2>/dev/null || true; fi
}

start() {
  local dir=$1 until_stdin_closes=$2
  mkdir -p "$dir"
  # Private: the socket inside lets its user in without a password, as the superuser.
  chmod 700 "$dir"
  dir=$(cd "$dir" && pwd)
  [ ! -e "$dir/data" ] || fail "$dir already holds a cluster (stop it, and start in a fresh directory)"
  # The socket's path, $dir/socket/.s.PGSQL.PORT, must fit a sockaddr_un (107 bytes).
  [ "${#dir}" -le 80 ] || fail "$dir is too long a path for the unix socket inside it (80 characters at most)"

  local started=false
  # On any failure: the end of the log, and no server left running.
  trap 'status=$?; if [ "$started" != true ]; then
      echo "postgres-throwaway: the server in $dir did not start; the end of $dir/log:" >&2
      tail -n 20 "$dir/log" >&2 2>/dev/null || true
      stop_server "$dir" || true
    fi; exit $status' EXIT

  mkdir -m 700 -p "$dir/socket"
  : >"$dir/log"
  local password
  password=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
  (umask 077 && printf '%s' "$password" >"$dir/password")
  if [ "$(id -u)" -eq 0 ]; then
    chown -R "$server_user:" "$dir"
    as_server_user test -w "$dir" \
      || fail "the '$server_user' user cannot reach $dir: its parent directories must be searchable by others (a directory under /tmp is)"
  fi

  # --no-sync and --locale=C: a throwaway needs neither durability nor a locale the machine
  # may lack. relay is the superuser; scram over TCP (what the relay will use), trust over the
  # socket (in a directory only the server's user, and root, can enter).
  as_server_user "$bindir/initdb" -D "$dir/data" -U relay --pwfile="$dir/password" \
    --auth-host=scram-sha-256 --auth-local=trust -E UTF8 --locale=C --no-sync --no-instructions \
    >>"$dir/log" 2>&1 || fail "initdb failed"
  cat >>"$dir/data/postgresql.conf" <<EOF

# deploy/postgres-throwaway.sh: a throwaway server for tests, fast to start rather than durable.
listen_addresses = '127.0.0.1'
port = 5432
unix_socket_directories = '$dir/socket'
unix_socket_permissions = 0700
fsync = off
synchronous_commit = off
full_page_writes = off
wal_level = minimal
max_wal_senders = 0
shared_buffers = 16MB
huge_pages = off
jit = off
EOF

  # The port is free when chosen, but something may take it before the server binds it:
  # then another port, up to three times.
  local port attempt
  for attempt in 1 2 3; do
    port=$(free_port)
    sed -i "s/^port = [0-9]*$/port = $port/" "$dir/data/postgresql.conf"
    if (close_inherited_descriptors && as_server_user "$bindir/pg_ctl" start -D "$dir/data" -l "$dir/log" -w -t 60 -s >&2); then
      break
    fi
    if [ "$attempt" -eq 3 ] || ! tail -n 20 "$dir/log" | grep -q 'could not bind\|Address already in use'; then
      fail "pg_ctl start failed"
    fi
  done
  # The database `relay` is initdb's `postgres`, renamed: instant, where CREATE DATABASE takes
  # a third of a second.
  as_server_user "$bindir/psql" --no-psqlrc --quiet --set=ON_ERROR_STOP=1 -h "$dir/socket" -p "$port" -U relay \
    -d template1 -c 'ALTER DATABASE postgres RENAME TO relay' >&2 || fail "could not make the database relay"

  local url="postgres://relay@127.0.0.1:$port/relay"
  echo "$url" >"$dir/url"
  started=true
  trap - EXIT
  if [ "$until_stdin_closes" = true ]; then start_watcher "$dir"; fi
  echo "$url"
}

stop() {
  local dir=$1 remove=$2
  if [ -d "$dir" ]; then
    stop_watcher "$dir"
  fi
  # Without a cluster there is nothing to stop, and no binaries needed to find that out.
  if [ -d "$dir/data" ]; then
    bindir=$(find_bindir)
    stop_server "$dir"
  fi
  if [ "$remove" = true ]; then rm -rf "$dir"; fi
}

resume() {
  local dir=$1 until_stdin_closes=$2
  [ -d "$dir/data" ] && [ -f "$dir/url" ] || fail "$dir holds no cluster to resume (start makes one)"
  dir=$(cd "$dir" && pwd)
  local url
  url=$(cat "$dir/url")
  if ! is_running "$dir"; then
    # The port is the one in postgresql.conf, the URL's: if something took it meanwhile, the
    # start fails, as it should (a client's URL would no longer reach this server).
    if ! (close_inherited_descriptors && as_server_user "$bindir/pg_ctl" start -D "$dir/data" -l "$dir/log" -w -t 60 -s >&2); then
      echo "postgres-throwaway: the server in $dir did not start again; the end of $dir/log:" >&2
      tail -n 20 "$dir/log" >&2 2>/dev/null || true
      stop_server "$dir" || true
      exit 1
    fi
  fi
  if [ "$until_stdin_closes" = true ] && [ ! -f "$dir/watcher.pid" ]; then start_watcher "$dir"; fi
  echo "$url"
}

command=${1:-}
case "$command" in
  start | resume)
    [ $# -ge 2 ] && [ $# -le 3 ] || usage
    until_stdin_closes=false
    if [ $# -eq 3 ]; then
      [ "$3" = --until-stdin-closes ] || usage
      until_stdin_closes=true
    fi
    bindir=$(find_bindir)
    "$command" "$2" "$until_stdin_closes"
    ;;
  stop)
    [ $# -ge 2 ] && [ $# -le 3 ] || usage
    remove=false
    if [ $# -eq 3 ]; then
      [ "$3" = --remove ] || usage
      remove=true
    fi
    stop "$2" "$remove"
    ;;
  check)
    [ $# -eq 1 ] || usage
    find_bindir
    ;;
  *) usage ;;
esac
