#!/usr/bin/env bash
# Builds the release binary and installs sse-relay as a systemd service:
#   /usr/local/bin/sse-relay, /etc/systemd/system/sse-relay.{service,socket} and, when absent,
#   /etc/sse-relay/config.json (from config.example.json; an existing one is kept).
#
#   sudo deploy/install.sh            # then: systemctl enable --now sse-relay
#   PREFIX=/tmp/root deploy/install.sh   # stage into another root (no systemctl calls)
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=${PREFIX:-}

swift build -c release --product sse-relay
install -D -m 0755 .build/release/sse-relay "$prefix/usr/local/bin/sse-relay"
install -D -m 0644 deploy/sse-relay.service "$prefix/etc/systemd/system/sse-relay.service"
install -D -m 0644 deploy/sse-relay.socket "$prefix/etc/systemd/system/sse-relay.socket"
if [ ! -e "$prefix/etc/sse-relay/config.json" ]; then
  install -D -m 0644 config.example.json "$prefix/etc/sse-relay/config.json"
fi
"$prefix/usr/local/bin/sse-relay" check-config "$prefix/etc/sse-relay/config.json"

if [ -z "$prefix" ] && [ -d /run/systemd/system ]; then
  systemctl daemon-reload
  echo "installed; start with: systemctl enable --now sse-relay"
else
  echo "installed under '${prefix:-/}' (systemd is not running here, so it was not reloaded)"
fi
