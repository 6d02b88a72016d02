#!/usr/bin/env bash
# The head's MLflow tracking server, for as long as the Ray head started just before it runs:
# ray_cluster.yaml's head_start_ray_commands call it after `ray start --head`. It ends a server an
# earlier `ray up` left, starts one, and returns once it answers; the server stops when this Ray
# head stops (`ray stop`, `ray down`). One server at a time, found by its pid file, not by
# `pgrep -f "mlflow server"` (the launcher's own shell holds those words and would match).
# Usage: head_mlflow.sh STATE_DIR HOST PORT ARTIFACTS_DIR   (mlflow.db, server.log, server.pid in STATE_DIR)
set -euo pipefail

if [ "${1:-}" = "--serve" ]; then  # the server's own process group: it watches the Ray head's GCS
  pidfile=$2 gcs=$3
  shift 3
  echo $$ > "$pidfile"
  "$@" &
  server=$!
  while kill -0 "$gcs" 2>/dev/null && kill -0 "$server" 2>/dev/null; do sleep 2; done
  kill -TERM -- "-$$"  # the whole group: the server and its workers, then this watcher
  exit 0
fi

state=$1 host=$2 port=$3 artifacts=$4
mkdir -p "$state" "$artifacts"
pidfile=$state/server.pid
if [ -s "$pidfile" ] && kill -0 -- "-$(cat "$pidfile")" 2>/dev/null; then
  old=$(cat "$pidfile")
  kill -TERM -- "-$old" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 -- "-$old" 2>/dev/null || break; sleep 0.2; done
  kill -KILL -- "-$old" 2>/dev/null || true
fi
rm -f "$pidfile"
gcs=$(pgrep -n -u "$(id -u)" -x gcs_server) || { echo "head_mlflow.sh: no Ray head of $(id -un) runs here" >&2; exit 1; }
setsid bash "$0" --serve "$pidfile" "$gcs" \
  mlflow server --backend-store-uri "sqlite:///$state/mlflow.db" --artifacts-destination "$artifacts" \
  --host "$host" --port "$port" > "$state/server.log" 2>&1 < /dev/null &
deadline=$((SECONDS + 180))
while [ "$SECONDS" -lt "$deadline" ]; do
  if python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/health', timeout=2)" 2>/dev/null; then
    echo "MLflow tracking server on port $port (log: $state/server.log)"
    exit 0
  fi
  sleep 1
done
echo "head_mlflow.sh: the MLflow server did not answer on port $port within 180 s; its log:" >&2
tail -n 30 "$state/server.log" >&2
exit 1
