#!/usr/bin/env bash
# Stop the OpenStack that up.sh started: exactly the processes recorded in $MC_OS_STATE/run
# (TERM, a wait, then KILL), and RabbitMQ when up.sh started it.  Idempotent: with nothing
# recorded it says so and exits 0.  Exits non-zero, naming them, when processes survive KILL.
# The state dir (logs, databases, clouds.yaml) is kept for a look after the tests; the next
# up.sh recreates it.
set -euo pipefail

STATE="${MC_OS_STATE:-/tmp/minicloud-openstack}"
export RABBITMQ_NODENAME=rabbit@localhost
GRACE="${MC_OS_STOP_GRACE:-10}"
# nova-api under uwsgi ignores INT and TERM (gotcha 8): KILL at once.  The other APIs run
# under uwsgi with no master, where INT is its "stop now" (TERM: a slower graceful stop).
KILL_AT_ONCE=" nova-api "
INT_FIRST=" keystone glance placement neutron "

START=$SECONDS
log() { printf 'down.sh [%2ds]: %s\n' "$((SECONDS - START))" "$*" >&2; }

if [ ! -d "$STATE/run" ] || ! compgen -G "$STATE/run/*.pid" >/dev/null; then
    log "nothing recorded in $STATE/run: nothing to stop"
    exit 0
fi

# "PID STARTTIME" from a pid file -> PID, when that process is still the one recorded.
live_pid() {
    local pid started now
    read -r pid started <"$1" || true
    [ -n "${pid:-}" ] && [ -r "/proc/$pid/stat" ] || return 1
    now="$(awk '{print $22}' "/proc/$pid/stat" 2>/dev/null)" || return 1
    [ -z "${started:-}" ] || [ "$now" = "$started" ] || return 1
    echo "$pid"
}

# Signal a recorded process and the process group it leads (each service runs in its own
# session, so the group holds only that service's processes).
signal() {
    kill "-$1" "$2" 2>/dev/null || true
    kill "-$1" -- "-$2" 2>/dev/null || true
}

# Is the recorded process, or any process of its group, still running?  A killed process whose
# parent has not reaped it yet (a zombie) counts as stopped.
group_alive() {
    local stat line rest fields
    for stat in /proc/[0-9]*/stat; do
        { read -r line <"$stat"; } 2>/dev/null || continue
        rest="${line##*) }"
        # rest: STATE PPID PGRP ...
        read -r -a fields <<<"$rest"
        [ "${fields[0]}" != Z ] || continue
        if [ "${stat#/proc/}" = "$1/stat" ] || [ "${fields[2]}" = "$1" ]; then
            return 0
        fi
    done
    return 1
}

# Wait up to $1 seconds until none of the given PIDs' groups is alive.
wait_gone() {
    local limit=$(($1 * 5)) pid busy
    shift
    while [ "$limit" -gt 0 ]; do
        busy=0
        for pid in "$@"; do group_alive "$pid" && busy=1 && break; done
        [ "$busy" -eq 0 ] && return 0
        limit=$((limit - 1))
        sleep 0.2
    done
    return 1
}

declare -A PIDS=()
for file in "$STATE"/run/*.pid; do
    name="$(basename "$file" .pid)"
    [ "$name" = rabbitmq ] && continue
    if pid="$(live_pid "$file")"; then
        PIDS[$name]=$pid
    else
        rm -f "$file"
    fi
done

for name in "${!PIDS[@]}"; do
    if [[ "$KILL_AT_ONCE" == *" $name "* ]]; then
        signal KILL "${PIDS[$name]}"
    elif [[ "$INT_FIRST" == *" $name "* ]]; then
        signal INT "${PIDS[$name]}"
    else
        signal TERM "${PIDS[$name]}"
    fi
done
if ! wait_gone "$GRACE" "${PIDS[@]}"; then
    left=()
    for name in "${!PIDS[@]}"; do
        group_alive "${PIDS[$name]}" && left+=("$name")
    done
    log "still running after ${GRACE} s, sending KILL: ${left[*]}"
    for name in "${left[@]}"; do signal KILL "${PIDS[$name]}"; done
    for name in "${left[@]}"; do
        if ! wait_gone 5 "${PIDS[$name]}"; then
            echo "down.sh: ERROR: $name (PID ${PIDS[$name]}) survives KILL" >&2
            exit 1
        fi
    done
fi
for name in "${!PIDS[@]}"; do rm -f "$STATE/run/$name.pid"; done
[ ${#PIDS[@]} -eq 0 ] || log "stopped: ${!PIDS[*]}"

# RabbitMQ, when up.sh started it.
file="$STATE/run/rabbitmq.pid"
if [ -f "$file" ]; then
    if pid="$(live_pid "$file")"; then
        rabbitmqctl -q stop >/dev/null 2>&1 || log "rabbitmqctl stop failed: signalling it"
        if ! wait_gone "$GRACE" "$pid"; then
            signal TERM "$pid"
            wait_gone 3 "$pid" || signal KILL "$pid"
        fi
        if ! wait_gone 5 "$pid"; then
            echo "down.sh: ERROR: RabbitMQ (PID $pid) survives KILL" >&2
            exit 1
        fi
        # Erlang's port mapper outlives the node; nothing else here uses it.
        epmd -kill >/dev/null 2>&1 || true
        log "stopped: rabbitmq"
    fi
    rm -f "$file"
fi
log "done; logs and databases stay in $STATE"
