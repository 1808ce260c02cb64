#!/usr/bin/env bash
# A private MariaDB server for MiniCloud's MySQL test cases (and for CI).
#
#   scripts/mysql-test-server.sh start DIR   # prints: export MINICLOUD_TEST_MYSQL_URL='...'
#   scripts/mysql-test-server.sh stop DIR
#
# `start` installs mariadb-server (and eatmydata) with apt when missing, initialises a datadir
# under DIR, starts mariadbd on 127.0.0.1:${MINICLOUD_TEST_MYSQL_PORT:-3307} (socket
# DIR/mysql.sock, PID in DIR/mariadbd.pid), creates the database `minicloud_test` and the user
# `minicloud` (ALL on minicloud_test.* and on minicloud_test%.*, CREATE on *.*) plus the user
# `minicloud_nocreate` (same password, SELECT on the never-created database minicloud_missing
# only; for the "may not create" test).
# Only the export line goes to stdout, so that this works:
#
#   eval "$(scripts/mysql-test-server.sh start /tmp/mc-mysql)" && python -m pytest; \
#       scripts/mysql-test-server.sh stop /tmp/mc-mysql
#
# `stop` kills exactly the recorded PID (TERM, wait, KILL) and removes nothing.
# The server is tuned for tests, not durability (TEST_TUNING below) and runs under eatmydata,
# which turns its fsync/fdatasync calls into no-ops: a crash may lose the last second of commits
# (a crash of the machine, more), which a throwaway test database does not need.  (MariaDB
# syncs its DDL log and redo log on every CREATE/DROP TABLE whatever its settings, and every
# MySQL test case drops and creates all tables: some 200,000 syncs, minutes on a disk where one
# takes a few ms.)
# Runs as root (mariadbd --user=root), without systemd.
set -euo pipefail

PORT="${MINICLOUD_TEST_MYSQL_PORT:-3307}"
DB_NAME="minicloud_test"
DB_USER="minicloud"
NOCREATE_USER="minicloud_nocreate"
# Never created: minicloud_nocreate may read it but not create it.
MISSING_DB="minicloud_missing"
WAIT_SECONDS=30
# Tuned for tests, not for keeping data (the datadir is thrown away): no flush of the redo log
# per commit, no binary log, no doublewrite buffer, no sync of .frm files, buffered (not direct)
# I/O; a modest buffer pool; and a test that runs into a row or metadata lock fails after 10 s
# instead of waiting 50 s (rows) or a day (metadata).  A clean `stop` still writes all out.
TEST_TUNING=(
    --skip-log-bin --sync-binlog=0
    --innodb-flush-log-at-trx-commit=0 --innodb-doublewrite=0 --skip-sync-frm
    --innodb-flush-method=fsync --innodb-buffer-pool-size=64M
    --innodb-lock-wait-timeout=10 --lock-wait-timeout=10
)
export PATH="$PATH:/usr/sbin:/sbin"

say() { echo "mysql-test-server: $*" >&2; }
die() { say "$*"; exit 1; }

usage() {
    echo "usage: $0 start DIR | stop DIR" >&2
    exit 2
}

alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }

install_server() {
    if command -v mariadbd >/dev/null 2>&1 && command -v mariadb-install-db >/dev/null 2>&1; then
        return
    fi
    [ "$(id -u)" -eq 0 ] || die "mariadbd is missing and only root can apt-get install it"
    say "installing mariadb-server with apt"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >&2
    apt-get install -y -q --no-install-recommends mariadb-server mariadb-client eatmydata >&2
    command -v mariadbd >/dev/null 2>&1 || die "mariadbd still missing after apt-get install"
}

# The command prefix that runs mariadbd: eatmydata when it is there or can be installed, else
# nothing (only slower).
launcher() {
    if ! command -v eatmydata >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
        say "installing eatmydata with apt"
        export DEBIAN_FRONTEND=noninteractive
        { apt-get install -y -q --no-install-recommends eatmydata ||
            { apt-get update -q && apt-get install -y -q --no-install-recommends eatmydata; }
        } >&2 || true
    fi
    if command -v eatmydata >/dev/null 2>&1; then
        LAUNCH=(eatmydata)
    else
        say "eatmydata is missing: the server syncs to disk (slower tests)"
        LAUNCH=()
    fi
}

show_log() {
    local log="$1"
    if [ -s "$log" ]; then
        say "server error log ($log):"
        tail -n 60 "$log" >&2
    else
        say "no server error log at $log"
    fi
}

admin() { mariadb-admin --no-defaults --protocol=socket --socket="$SOCK" -uroot "$@"; }
client() { mariadb --no-defaults --protocol=socket --socket="$SOCK" -uroot "$@"; }

start() {
    local dir="$1"
    mkdir -p "$dir"
    dir="$(cd "$dir" && pwd)"
    local datadir="$dir/data" log="$dir/mariadbd.err" pidfile="$dir/mariadbd.pid"
    SOCK="$dir/mysql.sock"
    # The unix socket path is limited to 107 bytes.
    [ "${#SOCK}" -lt 100 ] || die "DIR too long for a unix socket path: $dir"

    if [ -f "$pidfile" ] && alive "$(cat "$pidfile")"; then
        [ -f "$dir/url" ] || die "a server runs already (PID $(cat "$pidfile")) without $dir/url"
        say "server already running (PID $(cat "$pidfile"))"
        echo "export MINICLOUD_TEST_MYSQL_URL='$(cat "$dir/url")'"
        return
    fi

    install_server
    local -a LAUNCH=()
    launcher

    if [ ! -d "$datadir/mysql" ]; then
        say "initialising $datadir"
        mkdir -p "$datadir"
        if ! mariadb-install-db --no-defaults --user=root --datadir="$datadir" \
                --auth-root-authentication-method=socket --skip-test-db >"$dir/install-db.log" 2>&1; then
            cat "$dir/install-db.log" >&2
            die "mariadb-install-db failed"
        fi
    fi

    rm -f "$SOCK"
    : >"$log"
    say "starting mariadbd on 127.0.0.1:$PORT"
    ${LAUNCH[@]+"${LAUNCH[@]}"} mariadbd --no-defaults --user=root --datadir="$datadir" \
        --socket="$SOCK" --port="$PORT" --bind-address=127.0.0.1 --skip-name-resolve \
        --character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci \
        --log-error="$log" --pid-file="$dir/mariadbd.own.pid" \
        "${TEST_TUNING[@]}" </dev/null >>"$log" 2>&1 &
    local pid=$!
    echo "$pid" >"$pidfile"

    local waited=0
    until admin ping >/dev/null 2>&1; do
        if ! alive "$pid"; then
            show_log "$log"
            die "mariadbd exited during start-up (port $PORT taken?)"
        fi
        if [ "$waited" -ge $((WAIT_SECONDS * 10)) ]; then
            show_log "$log"
            kill -KILL "$pid" 2>/dev/null || true
            die "mariadbd did not answer within ${WAIT_SECONDS}s"
        fi
        sleep 0.1
        waited=$((waited + 1))
    done

    # A random password per DIR, kept across restarts of the same DIR.
    local password
    if [ -s "$dir/password" ]; then
        password="$(cat "$dir/password")"
    else
        password="$(od -An -tx1 -N12 /dev/urandom | tr -d ' \n')"
        (umask 077 && echo "$password" >"$dir/password")
    fi
    if ! client >&2 <<SQL
CREATE DATABASE IF NOT EXISTS \`$DB_NAME\` CHARACTER SET utf8mb4;
CREATE USER IF NOT EXISTS '$DB_USER'@'127.0.0.1' IDENTIFIED BY '$password';
CREATE USER IF NOT EXISTS '$DB_USER'@'localhost' IDENTIFIED BY '$password';
ALTER USER '$DB_USER'@'127.0.0.1' IDENTIFIED BY '$password';
ALTER USER '$DB_USER'@'localhost' IDENTIFIED BY '$password';
GRANT ALL ON \`$DB_NAME\`.* TO '$DB_USER'@'127.0.0.1', '$DB_USER'@'localhost';
GRANT ALL ON \`${DB_NAME}%\`.* TO '$DB_USER'@'127.0.0.1', '$DB_USER'@'localhost';
GRANT CREATE ON *.* TO '$DB_USER'@'127.0.0.1', '$DB_USER'@'localhost';
CREATE USER IF NOT EXISTS '$NOCREATE_USER'@'127.0.0.1' IDENTIFIED BY '$password';
ALTER USER '$NOCREATE_USER'@'127.0.0.1' IDENTIFIED BY '$password';
GRANT SELECT ON \`$MISSING_DB\`.* TO '$NOCREATE_USER'@'127.0.0.1';
FLUSH PRIVILEGES;
SQL
    then
        show_log "$log"
        die "could not create the test database and users"
    fi

    local url="mysql+pymysql://$DB_USER:$password@127.0.0.1:$PORT/$DB_NAME?charset=utf8mb4"
    (umask 077 && echo "$url" >"$dir/url")
    say "ready (PID $pid, log $log)"
    echo "export MINICLOUD_TEST_MYSQL_URL='$url'"
}

stop() {
    local dir="$1" pidfile="$1/mariadbd.pid"
    if [ ! -f "$pidfile" ]; then
        say "no $pidfile: nothing to stop"
        return
    fi
    local pid
    pid="$(cat "$pidfile")"
    [[ "$pid" =~ ^[0-9]+$ ]] || die "bad PID in $pidfile: $pid"
    if alive "$pid"; then
        kill -TERM "$pid" 2>/dev/null || true
        local waited=0
        while alive "$pid" && [ "$waited" -lt 300 ]; do
            sleep 0.1
            waited=$((waited + 1))
        done
        if alive "$pid"; then
            say "mariadbd (PID $pid) ignored TERM for 30s; killing it"
            kill -KILL "$pid" 2>/dev/null || true
        fi
        say "stopped (PID $pid)"
    else
        say "mariadbd (PID $pid) is not running"
    fi
    rm -f "$pidfile"
}

[ $# -eq 2 ] || usage
case "$1" in
    start) start "$2" ;;
    stop) stop "$2" ;;
    *) usage ;;
esac
