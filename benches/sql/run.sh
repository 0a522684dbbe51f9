#!/usr/bin/env bash
# The SQL pull benchmark (issue 19): N rows out of SQLite (and out of PostgreSQL when
# SYNCLINE_POSTGRES_URL names one, e.g. from tests/sql/databases.sh) through a map into NDJSON,
# beside the database's own client exporting the same rows (`sqlite3 -json`, `psql COPY ... TO
# STDOUT`). Prints, per round, each one's time, rows/s and syncline's peak memory.
#   benches/sql/run.sh [N] [RUNS]   (defaults: 1000000 rows, 3 runs)
set -euo pipefail
cd "$(dirname "$0")/../.."
release=${CARGO_TARGET_DIR:-target}/release
n=${1:-1000000}
runs=${2:-3}
dir=$PWD/target/bench/sql-$n
mkdir -p "$dir"
cargo build --release --quiet --bin syncline
# Quoted: PostgreSQL keeps the names' case only so (Sage's columns are mixed case).
columns='"AR_Ref", "AR_Design", "FA_CodeFamille", "AR_PrixVen", "AR_Sommeil", "cbModification"'
query="SELECT $columns FROM F_ARTICLE WHERE \"cbModification\" > :cursor ORDER BY \"cbModification\", \"AR_Ref\""
rows="WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < $n)
  INSERT INTO F_ARTICLE SELECT printf('A%07d', x), 'Article ' || x || ' en chêne', 'F' || (x % 50),
  round(x * 0.37 % 1000, 2), x % 17 = 0, datetime('2026-01-01', '+' || (x / 10) || ' seconds') FROM c"
if [ ! -f "$dir/erp.db" ]; then
  sqlite3 "$dir/erp.db.tmp" "CREATE TABLE F_ARTICLE (AR_Ref VARCHAR(18) PRIMARY KEY, AR_Design VARCHAR(69),
    FA_CodeFamille VARCHAR(10), AR_PrixVen NUMERIC(24,6), AR_Sommeil SMALLINT, cbModification DATETIME); $rows;
    CREATE INDEX ix_mod ON F_ARTICLE (cbModification)"
  mv "$dir/erp.db.tmp" "$dir/erp.db"
fi
pipeline() { # url
  cat <<YAML
version: 1
name: bench-sql
connections:
  erp: { sql: { url: "$1" } }
  out: { file: { dir: "$dir" } }
jobs:
  articles:
    from:
      sql:
        connection: erp
        query: |
          $query
    map:
      reference: \$.AR_Ref
      name: \$.AR_Design
      family: \$.FA_CodeFamille
      price: { path: \$.AR_PrixVen, as: decimal, scale: 2 }
      asleep: \$.AR_Sommeil
      modified: \$.cbModification
    to:
      file: { connection: out, path: out.ndjson }
YAML
}
measure() { # label url reference-command...
  local label=$1 url=$2
  shift 2
  pipeline "$url" > "$dir/p.yaml"
  for i in $(seq "$runs"); do
    rm -rf "$dir/state"
    /usr/bin/time -f "%e %M" -o "$dir/time" "$release/syncline" run "$dir/p.yaml" --state "$dir/state" > /dev/null
    read -r s kb < "$dir/time"
    written=$(wc -l < "$dir/out.ndjson")
    [ "$written" = "$n" ] || { echo "$label: $written rows written, not $n" >&2; exit 1; }
    start=$(date +%s.%N)
    "$@" > "$dir/reference.out"
    end=$(date +%s.%N)
    python3 -c "import sys; n,s,kb,r=int(sys.argv[1]),float(sys.argv[2]),int(sys.argv[3]),float(sys.argv[5])-float(sys.argv[4]); print('%s: syncline %.2f s = %.0f rows/s, peak %.1f MiB; its client %.2f s = %.0f rows/s' % (sys.argv[6], s, n/s, kb/1024, r, n/r))" "$n" "$s" "$kb" "$start" "$end" "$label"
  done
}
select_all="SELECT $columns FROM F_ARTICLE ORDER BY \"cbModification\", \"AR_Ref\""
measure sqlite "sqlite://$dir/erp.db" sqlite3 -json "$dir/erp.db" "$select_all"
if [ -n "${SYNCLINE_POSTGRES_URL:-}" ]; then
  if ! psql "$SYNCLINE_POSTGRES_URL" -tAc "SELECT count(*) FROM F_ARTICLE" 2>/dev/null | grep -qx "$n"; then
    psql -q "$SYNCLINE_POSTGRES_URL" -c "DROP TABLE IF EXISTS F_ARTICLE; CREATE TABLE F_ARTICLE (\"AR_Ref\" VARCHAR(18) PRIMARY KEY,
      \"AR_Design\" VARCHAR(69), \"FA_CodeFamille\" VARCHAR(10), \"AR_PrixVen\" NUMERIC(24,6), \"AR_Sommeil\" SMALLINT,
      \"cbModification\" TIMESTAMP); INSERT INTO F_ARTICLE SELECT 'A' || lpad(x::text, 7, '0'),
      'Article ' || x || ' en chêne', 'F' || (x % 50), round((x * 0.37) % 1000, 2), (x % 17 = 0)::int,
      timestamp '2026-01-01' + (x / 10) * interval '1 second' FROM generate_series(1, $n) x;
      CREATE INDEX ix_mod ON F_ARTICLE (\"cbModification\"); ANALYZE F_ARTICLE"
  fi
  measure postgres "$SYNCLINE_POSTGRES_URL" psql -q "$SYNCLINE_POSTGRES_URL" -c "COPY ($select_all) TO STDOUT"
fi
