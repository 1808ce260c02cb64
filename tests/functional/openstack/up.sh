#!/usr/bin/env bash
# Bring up a throwaway OpenStack on 127.0.0.1 for MiniCloud's functional tests:
# Keystone, Glance, Placement, Neutron (ML2, no agents) and Nova (fake hypervisor), from PyPI,
# on SQLite, with Debian's RabbitMQ.  See /work/shared/OPENSTACK_STACK.md for the why of each
# step (the "gotcha N" notes below).
#
#   eval "$(tests/functional/openstack/up.sh)"    # stdout: only the two export lines
#   tests/functional/openstack/down.sh
#   tests/functional/openstack/up.sh venv         # only install the venv (CI does it early,
#                                                 # beside its other installs), start nothing
#
# Environment:
#   MC_OS_VENV     the stack's venv (default /opt/minicloud-openstack-venv); reused when it
#                  already holds requirements.lock and the bind-all ML2 driver
#   MC_OS_STATE    configuration, databases, logs, PIDs, clouds.yaml
#                  (default /tmp/minicloud-openstack); recreated on every bring-up (gotcha 7)
#   MC_OS_PYTHON   the Python that makes the venv (default python3, >= 3.11)
#   MC_OS_TIMEOUT  seconds to wait for each group of services (default 120)
#
# Idempotent: a stack that is already up is taken down first.  Progress and errors go to
# stderr; any failure stops the script with the failing service's log tail.  The services use
# fixed ports (5000 8774 8778 9292 9696 5672): one stack per machine.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export MC_OS_VENV="${MC_OS_VENV:-/opt/minicloud-openstack-venv}"
export MC_OS_STATE="${MC_OS_STATE:-/tmp/minicloud-openstack}"
export MC_OS_TIMEOUT="${MC_OS_TIMEOUT:-120}"
PYTHON="${MC_OS_PYTHON:-python3}"
VENV="$MC_OS_VENV"
STATE="$MC_OS_STATE"
CLOUD=minicloud-functional
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
# RabbitMQ on loopback only, under a node name that needs no DNS.
export RABBITMQ_NODENAME=rabbit@localhost RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
export ERL_EPMD_ADDRESS=127.0.0.1
export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"

START=$SECONDS
log() { printf 'up.sh [%3ds]: %s\n' "$((SECONDS - START))" "$*" >&2; }
fail() {
    printf 'up.sh: ERROR: %s\n' "$*" >&2
    exit 1
}
on_exit() {
    local rc=$?
    if [ "$rc" -ne 0 ]; then
        echo "up.sh: FAILED (exit $rc); logs in $STATE/logs; stop what started with" \
            "$HERE/down.sh" >&2
    fi
}
trap on_exit EXIT

# Run a set-up command quietly; on failure show its output.
quiet() {
    local what=$1 out
    shift
    if ! out="$("$@" 2>&1)"; then
        printf '%s\n' "$out" | tail -n 40 >&2
        fail "$what failed: $*"
    fi
}

ONLY_VENV=0
case "${1:-}" in
    "") ;;
    venv) ONLY_VENV=1 ;;
    *) fail "usage: $0 [venv]" ;;
esac

# -- 0. a stack already up goes first --------------------------------------------------------
if [ "$ONLY_VENV" -eq 0 ]; then
    if compgen -G "$STATE/run/*.pid" >/dev/null; then
        log "a stack is recorded in $STATE: taking it down first"
        "$HERE/down.sh" >&2
    fi
    for port in 5000 8774 8778 9292 9696; do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            fail "port $port is in use by a process this script did not start (see: ss -ltnp)"
        fi
    done
fi

# -- 1. the venv -----------------------------------------------------------------------------
LOCK="$HERE/requirements.lock"
PLUGINS="$HERE/stack_plugins"
STAMP="$(cat "$LOCK" "$PLUGINS"/pyproject.toml "$PLUGINS"/*.py "$PLUGINS"/*/*.py \
    | sha256sum | cut -c1-16)"
if [ -f "$VENV/.minicloud-stack" ] && [ "$(cat "$VENV/.minicloud-stack")" = "$STAMP" ] \
    && [ -x "$VENV/bin/uwsgi" ]; then
    log "venv $VENV is up to date"
else
    log "installing the services into $VENV (a few minutes: uwsgi compiles)"
    "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
        || fail "$PYTHON is older than 3.11: set MC_OS_PYTHON"
    [ -x "$VENV/bin/python" ] || quiet "creating the venv" "$PYTHON" -m venv "$VENV"
    quiet "upgrading pip" "$VENV/bin/python" -m pip install -q --upgrade pip setuptools wheel
    quiet "installing requirements.lock" "$VENV/bin/python" -m pip install -q -r "$LOCK"
    # The bind-all ML2 driver and the SQLite locking fix, built from a copy so that no build
    # files land in the source tree; the fix loads in every process through a .pth file.
    build="$(mktemp -d)"
    cp -r "$PLUGINS" "$build/"
    quiet "installing the stack's plugins" \
        "$VENV/bin/python" -m pip install -q --no-deps --force-reinstall "$build/stack_plugins"
    rm -rf "$build"
    site="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
    echo "import minicloud_sqlite_immediate" >"$site/minicloud_sqlite_immediate.pth"
    echo "$STAMP" >"$VENV/.minicloud-stack"
    log "venv ready"
fi
if [ "$ONLY_VENV" -eq 1 ]; then
    trap - EXIT
    exit 0
fi
PY="$VENV/bin/python"
STACK=("$PY" "$HERE/stack.py")

# -- 2. RabbitMQ (Nova's services need it) ---------------------------------------------------
if ! command -v rabbitmq-server >/dev/null; then
    log "installing rabbitmq-server with apt"
    quiet "apt-get update" apt-get update -q
    quiet "apt-get install rabbitmq-server" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -q --no-install-recommends rabbitmq-server
fi

# -- 3. a fresh state dir ---------------------------------------------------------------------
if [ -e "$STATE" ] && [ ! -f "$STATE/.minicloud-openstack-state" ] \
    && [ -n "$(ls -A "$STATE" 2>/dev/null)" ]; then
    fail "$STATE exists and is not a MiniCloud OpenStack state dir: refusing to wipe it"
fi
rm -rf "$STATE"
mkdir -p "$STATE/run" "$STATE/logs"
touch "$STATE/.minicloud-openstack-state"
chmod 700 "$STATE"

# Start one service in the background, in its own session; record "PID STARTTIME".
start() {
    local name=$1
    shift
    setsid "$@" >"$STATE/logs/$name.log" 2>&1 </dev/null &
    local pid=$!
    echo "$pid $(awk '{print $22}' "/proc/$pid/stat" 2>/dev/null)" >"$STATE/run/$name.pid"
}
# An API under uwsgi: one process, four threads (gotcha 5).
start_api() {
    local name=$1 port=$2 module=$3
    shift 3
    start "$name" env "$@" "$VENV/bin/uwsgi" --home "$VENV" \
        --http-socket "127.0.0.1:$port" --add-header "Connection: close" \
        --processes 1 --threads 4 --buffer-size 65535 \
        --module "$module" --need-app --die-on-term
}

log "starting RabbitMQ"
rm -f "$STATE/run/rabbitmq.pid"
if (exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null; then
    log "RabbitMQ answers already on 5672: using it (down.sh leaves it running)"
else
    start rabbitmq rabbitmq-server
fi

# -- 4. configuration and databases ---------------------------------------------------------
quiet "writing the configuration" "${STACK[@]}" configure
KEYSTONE=(--config-file "$STATE/etc/keystone/keystone.conf")
NOVA=(--config-file "$STATE/etc/nova/nova.conf")
NEUTRON=(--config-file "$STATE/etc/neutron/neutron.conf"
    --config-file "$STATE/etc/neutron/ml2_conf.ini")
ADMIN_PASSWORD="$("${STACK[@]}" password admin)"

# -- 5. databases, three streams at once (about 20 s of CPU each) --------------------------
db_keystone() {
    local k=("$VENV/bin/keystone-manage" "${KEYSTONE[@]}")
    "${k[@]}" db_sync \
        && "${k[@]}" fernet_setup --keystone-user root --keystone-group root \
        && "${k[@]}" credential_setup --keystone-user root --keystone-group root \
        && "${k[@]}" bootstrap --bootstrap-password="$ADMIN_PASSWORD" \
            --bootstrap-region-id RegionOne \
            --bootstrap-admin-url http://127.0.0.1:5000/v3 \
            --bootstrap-internal-url http://127.0.0.1:5000/v3 \
            --bootstrap-public-url http://127.0.0.1:5000/v3 \
        && "${STACK[@]}" sqlite-wal keystone
}
db_glance() {
    "$VENV/bin/glance-manage" --config-file "$STATE/etc/glance/glance-api.conf" db_sync
}
db_placement() {
    "$VENV/bin/placement-manage" --config-file "$STATE/etc/placement/placement.conf" db sync
}
db_neutron() {
    # Neutron's migrations fail on SQLite: create the tables, then stamp (gotcha 1).
    "${STACK[@]}" neutron-tables && "$VENV/bin/neutron-db-manage" "${NEUTRON[@]}" stamp heads
}
db_nova() {
    "$VENV/bin/nova-manage" "${NOVA[@]}" api_db sync \
        && "$VENV/bin/nova-manage" "${NOVA[@]}" cell_v2 map_cell0 \
            --database_connection "sqlite:///$STATE/db/nova_cell0.sqlite" \
        && "$VENV/bin/nova-manage" "${NOVA[@]}" cell_v2 create_cell --name cell1 \
        && "$VENV/bin/nova-manage" "${NOVA[@]}" db sync
}
run_db() {
    local name
    for name in "$@"; do
        if ! "db_$name" >"$STATE/logs/db-$name.log" 2>&1; then
            echo "$name" >>"$STATE/run/db-failed"
            return
        fi
    done
}
check_db() {
    [ -s "$STATE/run/db-failed" ] || return 0
    while read -r name; do
        tail -n 40 "$STATE/logs/db-$name.log" >&2
    done <"$STATE/run/db-failed"
    fail "database set-up failed for: $(tr '\n' ' ' <"$STATE/run/db-failed")"
}
log "creating the databases"
run_db nova &
nova_job=$!
run_db neutron glance placement &
other_job=$!
run_db keystone
check_db

log "starting Keystone"
start_api keystone 5000 keystone.wsgi.api:application \
    OS_KEYSTONE_CONFIG_DIR="$STATE/etc/keystone"
wait "$nova_job" "$other_job"
check_db
quiet "switching the databases to WAL" "${STACK[@]}" sqlite-wal glance placement neutron \
    nova_api nova_cell0 nova

# -- 6. the services -------------------------------------------------------------------------
log "waiting for Keystone and RabbitMQ"
"${STACK[@]}" wait keystone
deadline=$((SECONDS + MC_OS_TIMEOUT))
until (exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null; do
    if [ -f "$STATE/run/rabbitmq.pid" ] \
        && ! kill -0 "$(cut -d' ' -f1 "$STATE/run/rabbitmq.pid")" 2>/dev/null; then
        tail -n 40 "$STATE/logs/rabbitmq.log" >&2
        fail "RabbitMQ exited while starting"
    fi
    [ $SECONDS -lt $deadline ] || { tail -n 40 "$STATE/logs/rabbitmq.log" >&2; \
        fail "RabbitMQ does not listen on 5672 after ${MC_OS_TIMEOUT} s"; }
    sleep 0.3
done

# Users first: the conductor and scheduler exit when their user does not exist (gotcha 11).
log "registering users, services and endpoints"
quiet "keystone registrations" "${STACK[@]}" register

log "starting Glance, Placement, Neutron and Nova"
start_api glance 9292 glance.wsgi.api:application OS_GLANCE_CONFIG_DIR="$STATE/etc/glance"
start_api placement 8778 placement.wsgi.api:application \
    OS_PLACEMENT_CONFIG_DIR="$STATE/etc/placement"
start_api neutron 9696 neutron.wsgi.api:application \
    OS_NEUTRON_CONFIG_DIR="$STATE/etc/neutron" OS_NEUTRON_CONFIG_FILES="neutron.conf;ml2_conf.ini"
start_api nova-api 8774 nova.wsgi.osapi_compute:application \
    OS_NOVA_CONFIG_DIR="$STATE/etc/nova"
start nova-conductor "$VENV/bin/nova-conductor" "${NOVA[@]}"
start nova-scheduler "$VENV/bin/nova-scheduler" "${NOVA[@]}"

# nova-compute asks the conductor first: start it once the conductor's queue exists.
deadline=$((SECONDS + MC_OS_TIMEOUT))
until rabbitmqctl -q list_queues name 2>/dev/null | grep -qx conductor; do
    kill -0 "$(cut -d' ' -f1 "$STATE/run/nova-conductor.pid")" 2>/dev/null || {
        tail -n 40 "$STATE/logs/nova-conductor.log" >&2; fail "nova-conductor exited"; }
    [ $SECONDS -lt $deadline ] || { tail -n 40 "$STATE/logs/nova-conductor.log" >&2; \
        fail "nova-conductor not listening after ${MC_OS_TIMEOUT} s"; }
    sleep 1
done
log "starting nova-compute"
start nova-compute "$VENV/bin/nova-compute" "${NOVA[@]}"

"${STACK[@]}" wait glance placement neutron nova
"${STACK[@]}" wait-compute

# -- 7. what the tests start from ---------------------------------------------------------
log "creating the external network, flavors, image, project and user"
"${STACK[@]}" seed

log "up in $((SECONDS - START)) s; clouds.yaml entry $CLOUD in $STATE/clouds.yaml"
echo "export OS_CLIENT_CONFIG_FILE=$STATE/clouds.yaml"
echo "export MINICLOUD_TEST_OS_CLOUD=$CLOUD"
