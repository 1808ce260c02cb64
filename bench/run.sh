#!/usr/bin/env bash
# Every benchmark, one after the other; each prints its own figures.
# The start-up comparison needs python-openstackclient (pip install python-openstackclient);
# the MySQL store figures need MINICLOUD_TEST_MYSQL_URL; the Galera figures need
# MINICLOUD_GALERA_PROXY_URL and MINICLOUD_GALERA_URLS (scripts/galera-test-cluster.sh).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
for bench in scale startup render sync store memory galera plan; do
    python "$bench.py"
done
