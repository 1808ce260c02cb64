#!/usr/bin/env bash
# A private three-node MariaDB Galera cluster behind an HAProxy, for MiniCloud's Galera test
# cases (and for CI).
#
#   scripts/galera-test-cluster.sh start DIR    # prints three assignments for eval (below)
#   scripts/galera-test-cluster.sh stop DIR     # stops all of it; idempotent
#   scripts/galera-test-cluster.sh kill DIR N       # SIGKILL node N (1-3): a node lost
#   scripts/galera-test-cluster.sh restart DIR N    # start node N again; back when Synced
#   scripts/galera-test-cluster.sh isolate DIR N    # cut node N off the group (gmcast.isolate)
#   scripts/galera-test-cluster.sh rejoin DIR N     # let it back in; back when Synced
#
# `start` installs mariadb-server, galera-4, haproxy and rsync (and eatmydata) with apt when
# missing, initialises node 1's datadir under DIR/node1 and bootstraps the cluster from it
# (--wsrep-new-cluster), then starts nodes 2 and 3, which join by a state transfer (rsync SST;
# their datadirs start empty), and waits until all three are Synced; then it creates the
# database `minicloud_test` and the user `minicloud` as scripts/mysql-test-server.sh does
# (replicated to every node), and starts HAProxy in front of the nodes.  Only the assignments
# go to stdout, so that this works:
#
#   eval "$(scripts/galera-test-cluster.sh start /tmp/mc-galera)" && python -m pytest; \
#       scripts/galera-test-cluster.sh stop /tmp/mc-galera
#
# It prints
#   export MINICLOUD_GALERA_URLS='URL1 URL2 URL3'   (one store URL per node)
#   export MINICLOUD_GALERA_PROXY_URL='URL'         (the store through HAProxy)
#   export MINICLOUD_GALERA_DIR='DIR'               (for the node commands above)
#
# Ports (loopback only), from MINICLOUD_GALERA_PORT=BASE at `start` (default 4400; never 3307,
# CI's single server; the other commands take it from DIR): HAProxy BASE, node N's SQL BASE+N, its group communication BASE+10+N, its
# incremental state transfer BASE+20+N, its rsync state transfer BASE+30+N.
#
# HAProxy sends every client to node 1 while it is healthy, else to node 2, else node 3 (one
# writer at a time: what a proxy in front of Galera is for), and calls a node healthy only when
# it is a Synced member of the primary component (an external check runs DIR/clustercheck.sh).
# A node marked down has its sessions cut; a node that refuses a client's connection is marked
# down at once (observe layer4), and that connection is sent to the next (redispatch).
#
# Tuned for tests like the single server (no durability, eatmydata), and to notice a lost node
# in a few seconds instead of Galera's 15.  Started by root, without systemd; the nodes run as
# the `mysql` user (Debian's packages make it) and their folders belong to it: the rsync state
# transfer fails when they run as root (the donor's rsync cannot write into the joiner's
# datadir, "rsync returned code 23").  DIR must therefore be reachable by that user (every
# folder above it searchable by others, as /tmp is; `mktemp -d` makes a folder that is not).
# `stop` kills exactly the recorded PIDs (TERM, wait, KILL) and removes nothing.
set -euo pipefail

BASE="${MINICLOUD_GALERA_PORT:-4400}"
NODES=(1 2 3)
DB_NAME="minicloud_test"
DB_USER="minicloud"
CHECK_USER="clustercheck"
CLUSTER="minicloud_test"
WAIT_SECONDS=90
PROVIDER=/usr/lib/galera/libgalera_smm.so
RUN_AS=mysql
# As scripts/mysql-test-server.sh (not durable, short lock waits), with a small redo log (it is
# copied whole at every state transfer).
TEST_TUNING=(
    --skip-log-bin --sync-binlog=0
    --innodb-flush-log-at-trx-commit=0 --innodb-doublewrite=0 --skip-sync-frm
    --innodb-flush-method=fsync --innodb-buffer-pool-size=32M --innodb-log-file-size=16M
    --innodb-lock-wait-timeout=10 --lock-wait-timeout=10
    --performance-schema=OFF
)
# What Galera needs (row-based replication, interleaved auto-increment locks), and a lost node
# noticed within about 3 s: suspected after 2 s of silence, dropped from the view after 3 s.
GROUP_TIMEOUTS="evs.keepalive_period=PT0.5S;evs.inactive_check_period=PT0.5S"
GROUP_TIMEOUTS+=";evs.suspect_timeout=PT2S;evs.inactive_timeout=PT3S;evs.install_timeout=PT3S"
GROUP_TIMEOUTS+=";gcache.size=32M"
export PATH="$PATH:/usr/sbin:/sbin"

say() { echo "galera-test-cluster: $*" >&2; }
die() { say "$*"; exit 1; }

usage() {
    echo "usage: $0 start DIR | stop DIR | kill DIR N | restart DIR N | isolate DIR N |" \
         "rejoin DIR N" >&2
    exit 2
}

alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }

sql_port() { echo $((BASE + $1)); }
group_port() { echo $((BASE + 10 + $1)); }
ist_port() { echo $((BASE + 20 + $1)); }
sst_port() { echo $((BASE + 30 + $1)); }
group_address() {
    local n out=""
    for n in "${NODES[@]}"; do out+="${out:+,}127.0.0.1:$(group_port "$n")"; done
    echo "gcomm://$out"
}

install_packages() {
    local wanted=(mariadb-server mariadb-client galera-4 rsync haproxy eatmydata) missing=() p
    for p in "${wanted[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    [ "$(id -u)" -eq 0 ] || die "missing ${missing[*]} and only root can apt-get install them"
    say "installing ${missing[*]} with apt"
    export DEBIAN_FRONTEND=noninteractive
    { apt-get install -y -q --no-install-recommends "${missing[@]}" ||
        { apt-get update -q && apt-get install -y -q --no-install-recommends "${missing[@]}"; }
    } >&2 || die "apt-get install ${missing[*]} failed"
}

node_dir() { echo "$DIR/node$1"; }
sock() { echo "$(node_dir "$1")/mysql.sock"; }
client() {
    local n=$1
    shift
    mariadb --no-defaults --protocol=socket --socket="$(sock "$n")" -uroot "$@"
}
# A status variable of node N ("" when it does not answer).
status_of() {
    client "$1" -N -B -e "SHOW STATUS LIKE '$2'" 2>/dev/null | cut -f2 || true
}
node_pid() { cat "$(node_dir "$1")/mariadbd.pid" 2>/dev/null || true; }

show_log() {
    local log="$1"
    if [ -s "$log" ]; then
        say "log ($log):"
        tail -n 40 "$log" >&2
    fi
}

# start_node N [--wsrep-new-cluster]: mariadbd for node N, in the background.
start_node() {
    local n=$1
    shift
    local dir
    dir="$(node_dir "$n")"
    mkdir -p "$dir/data"
    chown -R "$RUN_AS:" "$dir"
    rm -f "$(sock "$n")"
    local log="$dir/mariadbd.err"
    : >"$log"
    local -a launch=()
    command -v eatmydata >/dev/null 2>&1 && launch=(eatmydata)
    ${launch[@]+"${launch[@]}"} mariadbd --no-defaults --user="$RUN_AS" --datadir="$dir/data" \
        --socket="$(sock "$n")" --port="$(sql_port "$n")" --bind-address=127.0.0.1 \
        --skip-name-resolve --character-set-server=utf8mb4 \
        --collation-server=utf8mb4_unicode_ci --log-error="$log" \
        --pid-file="$dir/mariadbd.own.pid" \
        --binlog-format=ROW --default-storage-engine=InnoDB --innodb-autoinc-lock-mode=2 \
        --wsrep-on=ON --wsrep-provider="$PROVIDER" --wsrep-cluster-name="$CLUSTER" \
        --wsrep-cluster-address="$(group_address)" --wsrep-node-name="node$n" \
        --wsrep-node-address="127.0.0.1:$(group_port "$n")" \
        --wsrep-node-incoming-address="127.0.0.1:$(sql_port "$n")" \
        --wsrep-provider-options="gmcast.listen_addr=tcp://127.0.0.1:$(group_port "$n");ist.recv_addr=127.0.0.1:$(ist_port "$n");$GROUP_TIMEOUTS" \
        --wsrep-sst-method=rsync --wsrep-sst-receive-address="127.0.0.1:$(sst_port "$n")" \
        "${TEST_TUNING[@]}" "$@" </dev/null >>"$log" 2>&1 &
    echo $! >"$dir/mariadbd.pid"
}

# wait_synced N: until node N is a Synced member of the primary component.
wait_synced() {
    local n=$1 pid waited=0
    pid="$(node_pid "$n")"
    until [ "$(status_of "$n" wsrep_local_state_comment)" = "Synced" ] &&
          [ "$(status_of "$n" wsrep_cluster_status)" = "Primary" ]; do
        if ! alive "$pid"; then
            show_log "$(node_dir "$n")/mariadbd.err"
            die "node $n exited during start-up (port $(sql_port "$n") taken?)"
        fi
        if [ "$waited" -ge $((WAIT_SECONDS * 10)) ]; then
            show_log "$(node_dir "$n")/mariadbd.err"
            die "node $n was not Synced within ${WAIT_SECONDS}s"
        fi
        sleep 0.1
        waited=$((waited + 1))
    done
}

write_proxy_config() {
    local check="$DIR/clustercheck.sh" n
    # Healthy: answers, Synced, in the primary component.  HAProxy runs it with the server's
    # address and port as its 3rd and 4th arguments.
    cat >"$check" <<EOF
#!/bin/sh
out=\$(mariadb --no-defaults --connect-timeout=2 -h "\$3" -P "\$4" -u $CHECK_USER -N -B \\
    -e "SHOW STATUS WHERE Variable_name IN ('wsrep_local_state_comment', 'wsrep_cluster_status', 'wsrep_ready')" 2>/dev/null) || exit 1
echo "\$out" | grep -q "^wsrep_local_state_comment	Synced\$" || exit 1
echo "\$out" | grep -q "^wsrep_cluster_status	Primary\$" || exit 1
echo "\$out" | grep -q "^wsrep_ready	ON\$" || exit 1
exit 0
EOF
    chmod 755 "$check"
    {
        cat <<EOF
global
    external-check
    insecure-fork-wanted
    maxconn 512

defaults
    mode tcp
    timeout connect 2s
    timeout client 1h
    timeout server 1h
    timeout check 3s
    retries 2
    option redispatch 1

listen galera
    bind 127.0.0.1:$BASE
    option external-check
    external-check path "/usr/bin:/bin:/usr/sbin:/sbin"
    external-check command $check
    default-server inter 1s fastinter 500ms downinter 1s rise 2 fall 2 on-marked-down shutdown-sessions observe layer4 error-limit 1 on-error mark-down
EOF
        for n in "${NODES[@]}"; do
            local role=""
            [ "$n" -gt 1 ] && role=" backup"
            echo "    server node$n 127.0.0.1:$(sql_port "$n") check$role"
        done
    } >"$DIR/haproxy.cfg"
}

start_proxy() {
    write_proxy_config
    haproxy -c -q -f "$DIR/haproxy.cfg" >&2 || die "haproxy refuses $DIR/haproxy.cfg"
    haproxy -db -f "$DIR/haproxy.cfg" </dev/null >"$DIR/haproxy.log" 2>&1 &
    echo $! >"$DIR/haproxy.pid"
    local waited=0
    # Up when a client gets through it to a node.
    until mariadb --no-defaults --connect-timeout=2 -h 127.0.0.1 -P "$BASE" -u "$CHECK_USER" \
            -N -B -e "SELECT 1" >/dev/null 2>&1; do
        alive "$(cat "$DIR/haproxy.pid")" || { show_log "$DIR/haproxy.log";
                                              die "haproxy exited (port $BASE taken?)"; }
        [ "$waited" -lt $((WAIT_SECONDS * 10)) ] || { show_log "$DIR/haproxy.log";
                                                     die "haproxy sent no client through"; }
        sleep 0.1
        waited=$((waited + 1))
    done
}

running() {
    local n
    for n in "${NODES[@]}"; do alive "$(node_pid "$n")" || return 1; done
    alive "$(cat "$DIR/haproxy.pid" 2>/dev/null || true)"
}

print_urls() {
    local urls="" n
    for n in "${NODES[@]}"; do
        urls+="${urls:+ }mysql+pymysql://$DB_USER:$PASSWORD@127.0.0.1:$(sql_port "$n")/$DB_NAME?charset=utf8mb4"
    done
    echo "export MINICLOUD_GALERA_URLS='$urls'"
    echo "export MINICLOUD_GALERA_PROXY_URL='mysql+pymysql://$DB_USER:$PASSWORD@127.0.0.1:$BASE/$DB_NAME?charset=utf8mb4'"
    echo "export MINICLOUD_GALERA_DIR='$DIR'"
}

start() {
    mkdir -p "$DIR"
    DIR="$(cd "$DIR" && pwd)"
    [ "${#DIR}" -lt 90 ] || die "DIR too long for a unix socket path: $DIR"
    install_packages
    id "$RUN_AS" >/dev/null 2>&1 || die "no user $RUN_AS (mariadb-server makes it)"
    chmod 755 "$DIR"
    runuser -u "$RUN_AS" -- test -x "$DIR" ||
        die "user $RUN_AS cannot reach $DIR: make the folders above it searchable (chmod o+x)"
    if [ -s "$DIR/password" ] && running; then
        say "cluster already running"
        PASSWORD="$(cat "$DIR/password")"
        print_urls
        return
    fi
    stop_all  # whatever is left of an earlier start

    local first
    first="$(node_dir 1)"
    if [ ! -d "$first/data/mysql" ]; then
        say "initialising $first/data"
        mkdir -p "$first/data"
        chown -R "$RUN_AS:" "$first"
        if ! mariadb-install-db --no-defaults --user="$RUN_AS" --datadir="$first/data" \
                --auth-root-authentication-method=socket --skip-test-db \
                >"$first/install-db.log" 2>&1; then
            cat "$first/install-db.log" >&2
            die "mariadb-install-db failed"
        fi
    fi
    # A test cluster restarts from node 1 whichever node stopped last.
    [ -f "$first/data/grastate.dat" ] &&
        sed -i 's/^safe_to_bootstrap: 0/safe_to_bootstrap: 1/' "$first/data/grastate.dat"
    say "bootstrapping the cluster from node 1 (127.0.0.1:$(sql_port 1))"
    start_node 1 --wsrep-new-cluster
    wait_synced 1
    local n
    for n in "${NODES[@]:1}"; do
        say "starting node $n (127.0.0.1:$(sql_port "$n")): state transfer from the cluster"
        start_node "$n"
        wait_synced "$n"
    done

    if [ -s "$DIR/password" ]; then
        PASSWORD="$(cat "$DIR/password")"
    else
        PASSWORD="$(od -An -tx1 -N12 /dev/urandom | tr -d ' \n')"
        (umask 077 && echo "$PASSWORD" >"$DIR/password")
    fi
    # Users and grants are replicated (total order isolation): made once, on node 1.
    if ! client 1 >&2 <<SQL
CREATE DATABASE IF NOT EXISTS \`$DB_NAME\` CHARACTER SET utf8mb4;
CREATE USER IF NOT EXISTS '$DB_USER'@'127.0.0.1' IDENTIFIED BY '$PASSWORD';
ALTER USER '$DB_USER'@'127.0.0.1' IDENTIFIED BY '$PASSWORD';
GRANT ALL ON \`$DB_NAME\`.* TO '$DB_USER'@'127.0.0.1';
GRANT ALL ON \`${DB_NAME}%\`.* TO '$DB_USER'@'127.0.0.1';
GRANT CREATE ON *.* TO '$DB_USER'@'127.0.0.1';
CREATE USER IF NOT EXISTS '$CHECK_USER'@'127.0.0.1';
SQL
    then
        show_log "$first/mariadbd.err"
        die "could not create the test database and users"
    fi
    say "starting haproxy on 127.0.0.1:$BASE"
    start_proxy
    say "ready: nodes on ports $(sql_port 1)-$(sql_port 3), proxy on $BASE"
    print_urls
}

# stop_pid FILE WHAT: TERM the PID recorded in FILE, wait, then KILL; forget the file.
stop_pid() {
    local file=$1 what=$2 pid
    [ -f "$file" ] || return 0
    pid="$(cat "$file")"
    [[ "$pid" =~ ^[0-9]+$ ]] || die "bad PID in $file: $pid"
    if alive "$pid"; then
        kill -TERM "$pid" 2>/dev/null || true
        local waited=0
        while alive "$pid" && [ "$waited" -lt 300 ]; do
            sleep 0.1
            waited=$((waited + 1))
        done
        if alive "$pid"; then
            say "$what (PID $pid) ignored TERM for 30s; killing it"
            kill -KILL "$pid" 2>/dev/null || true
        fi
        say "stopped $what (PID $pid)"
    fi
    rm -f "$file"
}

stop_all() {
    stop_pid "$DIR/haproxy.pid" haproxy
    local i
    # Node 1 last: it is the one the next start bootstraps from.
    for ((i = ${#NODES[@]} - 1; i >= 0; i--)); do
        stop_pid "$(node_dir "${NODES[i]}")/mariadbd.pid" "node ${NODES[i]}"
    done
}

stop() {
    [ -d "$DIR" ] || { say "no $DIR: nothing to stop"; return; }
    stop_all
}

check_node() {
    [[ "${1:-}" =~ ^[1-3]$ ]] || usage
    [ -d "$(node_dir "$1")/data" ] || die "no node $1 in $DIR"
}

kill_node() {
    local pid
    pid="$(node_pid "$1")"
    alive "$pid" || { say "node $1 is not running"; return; }
    kill -KILL "$pid"
    while alive "$pid"; do sleep 0.05; done
    say "node $1 killed (PID $pid)"
}

restart_node() {
    if alive "$(node_pid "$1")"; then
        say "node $1 is running"
    else
        start_node "$1"
    fi
    wait_synced "$1"
    say "node $1 Synced"
}

# gmcast.isolate=1 closes the node's group connections and refuses new ones: the node is a
# minority of one (non-primary) while the others go on.
isolate_node() {
    client "$1" -e "SET GLOBAL wsrep_provider_options='gmcast.isolate=1'"
    local waited=0
    until [ "$(status_of "$1" wsrep_cluster_status)" = "non-Primary" ]; do
        [ "$waited" -lt $((WAIT_SECONDS * 10)) ] || die "node $1 still primary"
        sleep 0.1
        waited=$((waited + 1))
    done
    say "node $1 cut off (non-Primary)"
}

rejoin_node() {
    client "$1" -e "SET GLOBAL wsrep_provider_options='gmcast.isolate=0'"
    wait_synced "$1"
    say "node $1 back (Synced)"
}

[ $# -ge 2 ] || usage
DIR="$2"
# The ports are the cluster's: `start` records its base in DIR, and every later command on that
# DIR uses it, whatever MINICLOUD_GALERA_PORT says then (a node restarted on other ports could
# never rejoin the others).
if [ "$1" = start ]; then
    mkdir -p "$DIR"
    echo "$BASE" > "$DIR/base-port"
elif [ -f "$DIR/base-port" ]; then
    BASE="$(cat "$DIR/base-port")"
fi
case "$1" in
    start) [ $# -eq 2 ] || usage; start ;;
    stop) [ $# -eq 2 ] || usage; stop ;;
    kill) [ $# -eq 3 ] || usage; check_node "$3"; kill_node "$3" ;;
    restart) [ $# -eq 3 ] || usage; check_node "$3"; restart_node "$3" ;;
    isolate) [ $# -eq 3 ] || usage; check_node "$3"; isolate_node "$3" ;;
    rejoin) [ $# -eq 3 ] || usage; check_node "$3"; rejoin_node "$3" ;;
    *) usage ;;
esac
