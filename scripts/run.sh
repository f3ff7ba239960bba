#!/usr/bin/env bash
# make run: start `slipway server` in the background with its embedded
# defaults unless one already answers, scaffold the go-crud starter once,
# deploy it, and print its URL.
set -euo pipefail
bin=$(realpath "$1"); run_dir=$2; data_dir=$3
mkdir -p "$run_dir" "$data_dir"
log="$data_dir/server.log"

if ! "$bin" --data-dir "$data_dir" status >/dev/null 2>&1; then
  if ! docker info >/dev/null 2>&1; then
    echo "error: cannot reach the Docker daemon (${DOCKER_HOST:-unix:///var/run/docker.sock}); start dockerd (sudo systemctl start docker) and try again" >&2
    exit 1
  fi
  echo "Starting slipway server (data in $data_dir, log in $log)"
  nohup "$bin" server --data-dir "$data_dir" >>"$log" 2>&1 &
  echo $! >"$data_dir/server.pid"
  for _ in $(seq 1 100); do
    "$bin" --data-dir "$data_dir" status >/dev/null 2>&1 && break
    if ! kill -0 "$(cat "$data_dir/server.pid")" 2>/dev/null; then
      echo "error: slipway server exited; last lines of $log:" >&2
      tail -n 15 "$log" >&2
      exit 1
    fi
    sleep 0.2
  done
fi

app="$run_dir/hello"
if [ ! -f "$app/slipway.yml" ]; then
  "$bin" init hello --template go-crud --dir "$app" >/dev/null
fi
url=$(cd "$app" && "$bin" --data-dir "$data_dir" deploy)
echo
echo "The starter app is serving at $url"
echo "  curl $url""ping"
echo "  $bin status hello      $bin logs hello -f      make stop"
