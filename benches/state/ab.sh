#!/usr/bin/env bash
# A/B of the rerun of an unchanged catalog between two syncline binaries, each with a state of
# its own (a first run each), then reruns alternating; prints wall time and peak memory of each
# run and the size of each state.
#   OLD=/path/to/old/syncline benches/state/ab.sh [N] [RUNS]     (NEW defaults to this build)
# e.g. an earlier commit built with: git worktree add /tmp/old REV &&
#   (cd /tmp/old && CARGO_TARGET_DIR=/tmp/old-target cargo build --release --bin syncline)
set -euo pipefail
cd "$(dirname "$0")/../.."
release=${CARGO_TARGET_DIR:-target}/release
n=${1:-200000}; runs=${2:-5}
dir=target/bench/ab-$n; mkdir -p "$dir"
cargo build --release --quiet --bin syncline --example syncline-bench
OLD=${OLD:?the other binary: OLD=path} NEW=${NEW:-"$release/syncline"}
[ -f "$dir/catalog.ndjson" ] || "$release/examples/syncline-bench" catalog "$n" "$dir/catalog.ndjson"
"$release/examples/syncline-bench" shop > "$dir/shop.url" & shop=$!
trap 'kill $shop' EXIT
sleep 0.5
export SHOP_URL=$(cat "$dir/shop.url") SYNCLINE_BENCH_DIR="$PWD/$dir"
for b in OLD NEW; do
  rm -rf "$dir/state-$b"
  /usr/bin/time -f "$b first run %e s %M KB" ${!b} run benches/state/catalog.yaml --state "$dir/state-$b" --format json > "$dir/first-$b.json"
  echo "$b state: $(du -sk "$dir/state-$b" | cut -f1) KB"
done
for i in $(seq "$runs"); do
  for b in OLD NEW; do
    /usr/bin/time -f "$b rerun %e s %M KB" ${!b} run benches/state/catalog.yaml --state "$dir/state-$b" --format json > "$dir/rerun-$b.json"
    python3 -c "import json,sys; d=json.load(open(sys.argv[1]))['jobs'][0]; w=d['delivered']; assert w['created']==w['updated']==0, w" "$dir/rerun-$b.json"
  done
done
