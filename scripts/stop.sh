#!/usr/bin/env bash
# make stop: stop the server `make run` started. Deployed instances keep
# running; the next start adopts them.
set -euo pipefail
pidfile="$1/server.pid"
if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
  kill -TERM "$(cat "$pidfile")"
  for _ in $(seq 1 100); do kill -0 "$(cat "$pidfile")" 2>/dev/null || break; sleep 0.1; done
  rm -f "$pidfile"
  echo "slipway server stopped (deployed apps keep running)"
else
  echo "no slipway server started by make run is running"
fi
