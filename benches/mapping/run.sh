#!/usr/bin/env bash
# The file mapping path (shared/reference/benchmarks.md): N generated records as NDJSON, the
# reference pipeline (benches/mapping/catalog.yaml), against serde_json parsing and re-serialising
# the same file. Prints wall time and peak memory of each whole-process run.
#   benches/mapping/run.sh [N] [RUNS]      (defaults: 1000000 records, 5 runs)
set -euo pipefail
cd "$(dirname "$0")/../.."
release=${CARGO_TARGET_DIR:-target}/release
n=${1:-1000000}
runs=${2:-5}
dir=target/bench/$n
mkdir -p "$dir"
cargo build --release --quiet --bin syncline --example syncline-bench
[ -f "$dir/catalog.ndjson" ] || "$release/examples/syncline-bench" catalog "$n" "$dir/catalog.ndjson"
echo "records: $n, file: $(du -m "$dir/catalog.ndjson" | cut -f1) MB"
for i in $(seq "$runs"); do
  /usr/bin/time -f "baseline  %e s  %M KB" "$release/examples/syncline-bench" baseline "$dir/catalog.ndjson" "$dir/baseline.ndjson"
done
for i in $(seq "$runs"); do
  SYNCLINE_BENCH_DIR="$PWD/$dir" /usr/bin/time -f "syncline  %e s  %M KB" \
    "$release/syncline" run benches/mapping/catalog.yaml > /dev/null
done
