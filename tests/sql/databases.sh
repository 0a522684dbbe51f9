#!/usr/bin/env bash
# Real PostgreSQL and MariaDB servers on loopback for tests/sql.rs, each with a throwaway data
# directory. Debian's packages (postgresql, mariadb-server) are installed by `setup`.
#   tests/sql/databases.sh setup|start|stop|env
# `start` prints nothing; `env` prints the URLs the tests read:
#   SYNCLINE_POSTGRES_URL, SYNCLINE_MARIADB_URL
set -euo pipefail
home=${SQL_HOME:-/tmp/syncline-sql}
pg_port=${PG_PORT:-15432}
maria_port=${MARIA_PORT:-13306}

find_bin() { # name: in PATH, or Debian's versioned PostgreSQL folder
  command -v "$1" 2>/dev/null || ls /usr/lib/postgresql/*/bin/"$1" 2>/dev/null | sort -V | tail -1
}

# PostgreSQL refuses to run as root: its files and process belong to `postgres` when we are root.
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "${1:-}" in
  setup)
    if [ -z "$(find_bin initdb)" ] || ! command -v mariadbd >/dev/null; then
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql mariadb-server >/dev/null
    fi
    ;;
  start)
    mkdir -p "$home"
    chmod 755 "$home"
    if [ ! -d "$home/pg" ]; then
      mkdir -p "$home/pg"
      [ "$(id -u)" = 0 ] && chown postgres "$home/pg"
      as_pg "$(find_bin initdb)" -D "$home/pg" -A trust -U syncline >/dev/null
    fi
    as_pg "$(find_bin pg_ctl)" -D "$home/pg" -l "$home/pg/server.log" -w \
      -o "-p $pg_port -k $home/pg -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null
    as_pg "$(find_bin psql)" -h 127.0.0.1 -p "$pg_port" -U syncline -d postgres -qc \
      "SELECT 1" >/dev/null
    if [ ! -d "$home/maria" ]; then
      mariadb-install-db --user="$(id -un)" --datadir="$home/maria" --auth-root-authentication-method=normal \
        >"$home/maria-install.log" 2>&1
    fi
    # A throwaway server: no grant tables, so any user on loopback may do anything.
    mariadbd --user="$(id -un)" --datadir="$home/maria" --port="$maria_port" \
      --bind-address=127.0.0.1 --socket="$home/maria.sock" --skip-grant-tables \
      --pid-file="$home/maria.pid" --log-error="$home/maria.log" >/dev/null 2>&1 &
    for _ in $(seq 60); do
      [ -S "$home/maria.sock" ] && break
      sleep 0.5
    done
    [ -S "$home/maria.sock" ] || { cat "$home/maria.log" >&2; exit 1; }
    mariadb --socket="$home/maria.sock" -u root -e \
      "CREATE DATABASE IF NOT EXISTS syncline CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
    ;;
  stop)
    [ -d "$home/pg" ] && as_pg "$(find_bin pg_ctl)" -D "$home/pg" -m fast stop >/dev/null 2>&1 || true
    [ -f "$home/maria.pid" ] && kill "$(cat "$home/maria.pid")" 2>/dev/null || true
    ;;
  env)
    echo "SYNCLINE_POSTGRES_URL=postgres://syncline@127.0.0.1:$pg_port/postgres"
    echo "SYNCLINE_MARIADB_URL=mysql://root@127.0.0.1:$maria_port/syncline"
    ;;
  *)
    echo "usage: $0 setup|start|stop|env" >&2
    exit 2
    ;;
esac
