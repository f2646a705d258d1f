#!/usr/bin/env bash
# A private PostgreSQL cluster on 127.0.0.1, apart from any system one.
#   scripts/postgres.sh start DIR   initialises DIR if needed, starts it on a free port, prints the URL
#   scripts/postgres.sh stop DIR
set -euo pipefail
action=${1:?start or stop}
root=${2:?cluster directory}
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)

as_postgres() {
  if [ "$(id -u)" -eq 0 ]; then su postgres -s /bin/bash -c "$*"; else bash -c "$*"; fi
}

case "$action" in
  start)
    mkdir -p "$root"
    [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$root"
    if [ ! -f "$root/data/PG_VERSION" ]; then
      as_postgres "$bin/initdb -D '$root/data' -U postgres --auth=trust -E UTF8 --locale=C.UTF-8" >/dev/null
    fi
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    as_postgres "$bin/pg_ctl -D '$root/data' -l '$root/server.log' -o \"-c listen_addresses=127.0.0.1 -p $port -k '$root' -c fsync=off -c max_connections=300\" -w start" >/dev/null
    echo "postgres://postgres@127.0.0.1:$port"
    ;;
  stop)
    if [ -f "$root/data/postmaster.pid" ]; then
      as_postgres "$bin/pg_ctl -D '$root/data' -m fast -w stop" >/dev/null
    fi
    ;;
  *)
    echo "usage: $0 start|stop DIR" >&2
    exit 2
    ;;
esac
