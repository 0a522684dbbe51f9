#!/usr/bin/env bash
# The rerun of an unchanged catalog (shared/reference/benchmarks.md, state): N generated records
# pushed once to the shop double (every product created, ID map and fingerprints stored in
# sled), then RUNS reruns over the same file, each of which must send nothing. Prints wall time,
# peak memory, records/s and the size of the state directory.
#   benches/state/run.sh [N] [RUNS]      (defaults: 1000000 records, 3 runs)
#   KEEP_STATE=1 benches/state/run.sh    reruns only, on the state of the last first run
#   ORDER=random benches/state/run.sh    reruns over the same records in random order (the ID
#                                        map is then read through the in-memory index)
set -euo pipefail
cd "$(dirname "$0")/../.."
release=${CARGO_TARGET_DIR:-target}/release
n=${1:-1000000}
runs=${2:-3}
dir=target/bench/$n
mkdir -p "$dir"
cargo build --release --quiet --bin syncline --example syncline-bench
[ -f "$dir/catalog.ndjson" ] || "$release/examples/syncline-bench" catalog "$n" "$dir/catalog.ndjson"
state=$dir/state
catalog=catalog.ndjson
if [ "${ORDER:-}" = random ]; then
  catalog=catalog-random.ndjson
  [ -f "$dir/$catalog" ] || shuf --random-source=<(yes) "$dir/catalog.ndjson" > "$dir/$catalog"
fi
[ -n "${KEEP_STATE:-}" ] && [ -d "$state" ] || rm -rf "$state"
"$release/examples/syncline-bench" shop > "$dir/shop.url" &
shop=$!
trap 'kill $shop' EXIT
sleep 0.5
export SHOP_URL=$(cat "$dir/shop.url") SYNCLINE_BENCH_DIR="$PWD/$dir"
if [ ! -d "$state" ]; then
  /usr/bin/time -f "first run  %e s  %M KB" "$release/syncline" run benches/state/catalog.yaml \
    --state "$state" --format json > "$dir/first.json"
  python3 -c "import json,sys; d=json.load(open(sys.argv[1]))['jobs'][0]; print('first run:', d['read'], 'read,', d['delivered'])" "$dir/first.json"
fi
echo "state directory: $(du -sm "$state" | cut -f1) MB"
for i in $(seq "$runs"); do
  start=$(date +%s.%N)
  SYNCLINE_CATALOG=$catalog /usr/bin/time -f "rerun  %e s  %M KB" "$release/syncline" run benches/state/catalog.yaml \
    --state "$state" --format json > "$dir/rerun.json"
  end=$(date +%s.%N)
  python3 -c "import json,sys; d=json.load(open(sys.argv[1]))['jobs'][0]; w=d['delivered']; assert w['created']==w['updated']==0, w; print('  ', d['read'], 'read,', w['unchanged'], 'unchanged, 0 sent,', int(d['read']/(float(sys.argv[3])-float(sys.argv[2]))), 'records/s')" "$dir/rerun.json" "$start" "$end"
done
