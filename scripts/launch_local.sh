#!/usr/bin/env bash
# scripts/launch_local.sh N -- COMMAND [ARGS...]
# Starts N local processes of COMMAND with the environment torchrun gives its workers on one node: RANK,
# WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR (127.0.0.1) and MASTER_PORT (a free port, unless
# MASTER_PORT is set). SIGINT / SIGTERM are forwarded to every rank. When a rank fails the others are stopped
# (SIGTERM, then SIGKILL after 10 s), as torchrun does, and this script exits with that rank's status; 0 when
# every rank succeeds.
set -uo pipefail
if [[ $# -lt 3 || "$2" != "--" || ! "$1" =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: $0 N -- COMMAND [ARGS...]" >&2
  exit 2
fi
world_size=$1
shift 2
export WORLD_SIZE=$world_size LOCAL_WORLD_SIZE=$world_size MASTER_ADDR="${MASTER_ADDR:-127.0.0.1}"
if [[ -z "${MASTER_PORT:-}" ]]; then
  MASTER_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
fi
export MASTER_PORT

declare -A rank_of
pids=()
stop_all() {  # SIGNAL: to every rank still running; SIGKILL to those still there after 10 s
  local pid
  for pid in "${pids[@]}"; do kill -"$1" "$pid" 2>/dev/null; done
  for _ in $(seq 100); do
    local alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [[ $alive == 0 ]] && return
    sleep 0.1
  done
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null; done
}
trap 'stop_all TERM; exit 143' TERM
trap 'stop_all INT; exit 130' INT

for ((rank = 0; rank < world_size; ++rank)); do
  RANK=$rank LOCAL_RANK=$rank "$@" &
  pids+=($!)
  rank_of[$!]=$rank
done

# The ranks are this script's only children: `wait -n` without ids takes the next one to end (a list of ids would
# name ranks already reaped, which bash reports as "no such job").
for ((left = world_size; left > 0; --left)); do
  finished=""
  wait -n -p finished
  status=$?
  if [[ $status != 0 ]]; then
    echo "launch_local: rank ${rank_of[$finished]:-?} (pid $finished) exited with status $status; stopping the others" >&2
    stop_all TERM
    wait 2>/dev/null
    exit "$status"
  fi
done
exit 0
