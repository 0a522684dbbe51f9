#!/usr/bin/env bash
# The pull benchmark (shared/reference/benchmarks.md, HTTP): N catalog records served in pages
# of 100 by `syncline-bench pages`, read (a) by a plain sequential client that only fetches and
# parses each page (and once more writing them as NDJSON, the same job) and (b) by `syncline run benches/http/pull.yaml`, which also writes them as
# NDJSON. Prints both wall times, RUNS times each.
#   benches/http/run.sh [N] [RUNS]     (defaults: 100000 records, 3 runs)
#   PULL=pull-announced benches/http/run.sh ...   the API announces its number of pages
set -euo pipefail
cd "$(dirname "$0")/../.."
n=${1:-100000}
runs=${2:-3}
dir=target/bench/http-$n
mkdir -p "$dir"
cargo build --release --quiet --bin syncline --bin syncline-bench
[ -f "$dir/catalog.ndjson" ] || target/release/syncline-bench catalog "$n" "$dir/catalog.ndjson"
target/release/syncline-bench pages "$dir/catalog.ndjson" 100 > "$dir/api.url" &
api=$!
trap 'kill $api' EXIT
sleep 0.5
export API_URL=$(cat "$dir/api.url") SYNCLINE_BENCH_DIR="$PWD/$dir"
for i in $(seq "$runs"); do
  target/release/syncline-bench fetch "$API_URL"
  target/release/syncline-bench fetch "$API_URL" "$dir/plain.ndjson"
  start=$(date +%s.%N)
  /usr/bin/time -f "syncline   %e s  %M KB" target/release/syncline run "benches/http/${PULL:-pull}.yaml" \
    --state "$dir/state" --format json > "$dir/report.json"
  end=$(date +%s.%N)
  python3 -c "import json,sys; d=json.load(open(sys.argv[1]))['jobs'][0]; assert d['read']==int(sys.argv[2]), d; print('syncline: %d records in %.2f s' % (d['read'], float(sys.argv[4])-float(sys.argv[3])))" "$dir/report.json" "$n" "$start" "$end"
done | tee "$dir/runs.txt"
# syncline's time over the plain client's (fetch and parse only) in the same round, per round.
python3 -c "
import re, statistics, sys
plain = [float(m) for m in re.findall(r'plain client: \d+ records in ([\d.]+) s', open(sys.argv[1]).read())]
ours = [float(m) for m in re.findall(r'syncline: \d+ records in ([\d.]+) s', open(sys.argv[1]).read())]
ratios = sorted(o / p for o, p in zip(ours, plain))
print('syncline / plain client, per round: %s; median %.2f' % (', '.join('%.2f' % r for r in ratios), statistics.median(ratios)))
" "$dir/runs.txt"
