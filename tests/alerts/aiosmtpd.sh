#!/usr/bin/env bash
# Python's aiosmtpd (from PyPI, pinned) in a virtual environment, for tests/alerts.rs: the tests
# start their own SMTP server with it (smtpd.py), on loopback.
#   tests/alerts/aiosmtpd.sh setup    the venv, once (idempotent)
#   tests/alerts/aiosmtpd.sh env      prints SYNCLINE_AIOSMTPD_PYTHON=..., which the tests read
# Settings (environment): AIOSMTPD_HOME (default /tmp/syncline-aiosmtpd), PYTHON (>= 3.8).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
HOME_DIR="${AIOSMTPD_HOME:-/tmp/syncline-aiosmtpd}"
VENV="$HOME_DIR/venv"; PY="${PYTHON:-python3}"

case "${1:-}" in
  setup)
    sum=$(sha256sum "$HERE/requirements.txt" | cut -d' ' -f1)
    if [[ ! -f "$VENV/.installed" || "$(cat "$VENV/.installed")" != "$sum" ]]; then
      mkdir -p "$HOME_DIR"
      [[ -x "$VENV/bin/python" ]] || "$PY" -m venv "$VENV"
      "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$HERE/requirements.txt"
      echo "$sum" > "$VENV/.installed"
    fi
    ;;
  env) echo "SYNCLINE_AIOSMTPD_PYTHON=$VENV/bin/python" ;;
  *) echo "usage: $0 setup|env" >&2; exit 2 ;;
esac
