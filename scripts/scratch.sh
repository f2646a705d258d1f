# Sourced by scripts that run a server against throw-away databases: a scratch folder ($work),
# removed on exit together with the server ($server_pid) and the private PostgreSQL cluster (and
# its replica) in it.
export PATH="$PWD/end2end/node_modules/.bin:$HOME/.cargo/bin:$PATH"
work=$(mktemp -d "/tmp/portal-${1:-scratch}.XXXXXX")
chmod 755 "$work"
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  scripts/postgres.sh stop "$work/pg-replica" || true
  scripts/postgres.sh stop "$work/pg" || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
