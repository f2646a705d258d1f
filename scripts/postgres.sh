#!/usr/bin/env bash
# A private PostgreSQL cluster on 127.0.0.1, apart from any system one.
#   scripts/postgres.sh start DIR   initialises DIR if needed, starts it on a free port, prints the URL
#   scripts/postgres.sh replica PRIMARY DIR  a streaming replica of the running cluster in PRIMARY,
#                                          in DIR (a fresh base backup), started; prints its URL
#   scripts/postgres.sh stop DIR
# POSTGRES_SETTINGS adds server settings, e.g. "-c shared_buffers=4GB -c max_wal_size=8GB".
set -euo pipefail
action=${1:?start, replica or stop}
root=${2:?cluster directory}
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)

as_postgres() {
  if [ "$(id -u)" -eq 0 ]; then su postgres -s /bin/bash -c "$*"; else bash -c "$*"; fi
}

# Starts the cluster in $1 on a free port and prints its URL.
serve() {
  local dir=$1 port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  as_postgres "$bin/pg_ctl -D '$dir/data' -l '$dir/server.log' -o \"-c listen_addresses=127.0.0.1 -p $port -k '$dir' -c fsync=off -c max_connections=300 ${POSTGRES_SETTINGS:-}\" -w start" >/dev/null
  echo "postgres://postgres@127.0.0.1:$port"
}

case "$action" in
  start)
    mkdir -p "$root"
    [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$root"
    if [ ! -f "$root/data/PG_VERSION" ]; then
      as_postgres "$bin/initdb -D '$root/data' -U postgres --auth=trust -E UTF8 --locale=C.UTF-8" >/dev/null
    fi
    serve "$root"
    ;;
  replica)
    # The primary's port is the fourth line of its postmaster.pid.
    primary_port=$(sed -n 4p "$root/data/postmaster.pid")
    replica=${3:?replica directory}
    rm -rf "$replica" && mkdir -p "$replica"
    [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$replica"
    # -R writes the standby signal and the connection back to the primary; -X stream copies the
    # WAL written meanwhile, so the replica starts consistent; a fast checkpoint starts the copy at
    # once instead of after a spread one (minutes).
    as_postgres "$bin/pg_basebackup -h 127.0.0.1 -p $primary_port -U postgres -D '$replica/data' -R -X stream --checkpoint=fast" >/dev/null
    serve "$replica"
    ;;
  stop)
    if [ -f "$root/data/postmaster.pid" ]; then
      as_postgres "$bin/pg_ctl -D '$root/data' -m fast -w stop" >/dev/null
    fi
    ;;
  *)
    echo "usage: $0 start DIR | replica PRIMARY DIR | stop DIR" >&2
    exit 2
    ;;
esac
