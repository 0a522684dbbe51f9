#!/usr/bin/env bash
# (Copied from shared/reference/tryton/, where it was written and checked against trytond 8.2.)
# A real Tryton 8.2 ERP on loopback, for end-to-end tests.
#   tryton.sh setup    venv from requirements.txt, a SQLite database with the product, party,
#                      stock, sale and account modules activated, seeded by seed.py (idempotent)
#   tryton.sh start    trytond in the background, waits until it answers; prints the URLs
#   tryton.sh stop     stops exactly the process start recorded
# Settings (environment): TRYTON_HOME (where the venv, database, logs and pid live; default
# /tmp/syncline-tryton), TRYTON_PORT (default 18300), TRYTON_DB (default erp), PYTHON (>= 3.10).
# Login admin/admin; REST key rest-key-0123456789abcdef0123. This folder is read-only in CI:
# everything is written under TRYTON_HOME.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
HOME_DIR="${TRYTON_HOME:-/tmp/syncline-tryton}"
PORT="${TRYTON_PORT:-18300}"; DB="${TRYTON_DB:-erp}"; PY="${PYTHON:-python3}"
VENV="$HOME_DIR/venv"; CONF="$HOME_DIR/trytond.conf"; DBDIR="$HOME_DIR/db"
PIDFILE="$HOME_DIR/trytond.pid"; LOG="$HOME_DIR/trytond.log"
MODULES="party company currency product stock sale account"
mkdir -p "$HOME_DIR" "$DBDIR"

setup() {
  local sum; sum=$(sha256sum "$HERE/requirements.txt" | cut -d' ' -f1)
  if [[ ! -f "$VENV/.installed" || "$(cat "$VENV/.installed")" != "$sum" ]]; then
    [[ -x "$VENV/bin/python" ]] || "$PY" -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$HERE/requirements.txt"
    echo "$sum" > "$VENV/.installed"
  fi
  printf '[database]\nuri = sqlite://\npath = %s\n[web]\nlisten = 127.0.0.1:%s\n' "$DBDIR" "$PORT" > "$CONF"
  printf 'admin\n' > "$HOME_DIR/admin.pass"; chmod 600 "$HOME_DIR/admin.pass"
  if ! "$PY" - "$DBDIR/$DB.sqlite" <<'PYEOF'
import sqlite3, sys
try:
    row = sqlite3.connect(sys.argv[1]).execute("SELECT state FROM ir_module WHERE name='sale'").fetchone()
except sqlite3.Error:
    row = None
sys.exit(0 if row and row[0] == 'activated' else 1)
PYEOF
  then
    rm -f "$DBDIR/$DB.sqlite"; touch "$DBDIR/$DB.sqlite"   # the SQLite backend refuses a missing file
    TRYTONPASSFILE="$HOME_DIR/admin.pass" "$VENV/bin/trytond-admin" -c "$CONF" -d "$DB" \
      -u $MODULES --activate-dependencies --email admin@example.com > "$HOME_DIR/admin.log" 2>&1 \
      || { tail -30 "$HOME_DIR/admin.log"; exit 1; }
  fi
  "$VENV/bin/python" "$HERE/seed.py" "$CONF" "$DB" 2> "$HOME_DIR/seed.log" || { tail -30 "$HOME_DIR/seed.log"; exit 1; }
}

start() {
  if [[ -s "$PIDFILE" ]] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then echo "already running"; return; fi
  # -d preloads the database: without it the first login fails on trytond 8.2 + SQLite.
  (exec setsid "$VENV/bin/trytond" -c "$CONF" -d "$DB" >> "$LOG" 2>&1 < /dev/null) &
  echo $! > "$PIDFILE"
  for _ in $(seq 1 120); do
    if curl -sf -o /dev/null --max-time 2 -X POST -H 'Content-Type: application/json' \
         -d '{"id":0,"method":"common.server.version","params":[]}' "http://127.0.0.1:$PORT/rpc/"; then
      echo "Tryton JSON-RPC: http://127.0.0.1:$PORT/$DB/rpc/ (admin/admin)"
      echo "Tryton REST:     http://127.0.0.1:$PORT/$DB/rest/model/<model> (Bearer rest-key-0123456789abcdef0123)"
      return
    fi
    kill -0 "$(cat "$PIDFILE")" 2>/dev/null || { tail -20 "$LOG"; exit 1; }
    sleep 0.5
  done
  echo "no answer after 60 s" >&2; exit 1
}

stop() {
  [[ -s "$PIDFILE" ]] || { echo "not running"; return; }
  local pid; pid=$(cat "$PIDFILE")
  if kill -0 "$pid" 2>/dev/null && tr '\0' ' ' < "/proc/$pid/cmdline" | grep -q trytond; then
    kill -TERM "$pid"; for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  fi
  rm -f "$PIDFILE"
}

case "${1:-}" in setup) setup ;; start) start ;; stop) stop ;; *) echo "usage: $0 setup|start|stop" >&2; exit 2 ;; esac
