#!/usr/bin/env bash
# The push benchmark (issue 5): N updates sent to the shop double (a) by 8 plain client threads
# (`syncline-bench put`: the double's own throughput), through syncline's HTTP client
# (connectors/http/client.rs) and through hand-written HTTP/1.1 (`raw`: what the double
# serves when its client costs next to nothing), and (b) by
# `syncline run benches/http/push.yaml` with `concurrency: 8`, after a first run created the
# products. Each round starts a fresh double. Prints, per round, the double's own updates/s
# and syncline's, counted two ways: over the whole process (start, state opened, report
# written) and over the job as its report times it; then the median ratios.
# With DELAY_MS, the double waits that long before each answer, as a real server's work
# would: the double's throughput is then set by its latency and the 8 connections, not by
# the CPU the client takes from it, and the ratio shows whether syncline keeps 8 writes in
# flight all the time.
#   benches/http/push.sh [N] [RUNS] [DELAY_MS]   (defaults: 10000 updates, 3 runs, no delay)
set -euo pipefail
cd "$(dirname "$0")/../.."
release=${CARGO_TARGET_DIR:-target}/release
n=${1:-10000}
runs=${2:-3}
delay_ms=${3:-0}
dir=target/bench/push-$n
rm -rf "$dir" && mkdir -p "$dir"
cargo build --release --quiet --bin syncline --example syncline-bench
python3 -c "import sys; n=int(sys.argv[1]); open(sys.argv[2],'w').write('ref,price\n'+''.join(f'P{i:06},10\n' for i in range(n))); open(sys.argv[3],'w').write('ref,price\n'+''.join(f'P{i:06},{11+i%2}\n' for i in range(n)))" "$n" "$dir/first.csv" "$dir/changed.csv"
for i in $(seq "$runs"); do
  "$release/examples/syncline-bench" shop "$delay_ms" > "$dir/shop.url" &
  shop=$!
  sleep 0.3
  export SHOP_URL=$(cat "$dir/shop.url") SYNCLINE_BENCH_DIR="$PWD/$dir"
  "$release/examples/syncline-bench" put "$SHOP_URL" "$n" 8
  "$release/examples/syncline-bench" put "$SHOP_URL" "$n" 8 raw
  rm -rf "$dir/state"
  SYNCLINE_PRODUCTS=first.csv "$release/syncline" run benches/http/push.yaml --state "$dir/state" > /dev/null
  start=$(date +%s.%N)
  SYNCLINE_PRODUCTS=changed.csv "$release/syncline" run benches/http/push.yaml --state "$dir/state" \
    --format json > "$dir/report.json"
  end=$(date +%s.%N)
  python3 -c "import json,sys; d=json.load(open(sys.argv[1]))['jobs'][0]; u=d['delivered']['updated']; assert u==int(sys.argv[2]), d; t=float(sys.argv[4])-float(sys.argv[3]); j=d['seconds']; print('syncline: %d updates in %.3f s = %.0f updates/s; in the job %.3f s = %.0f updates/s' % (u, t, u/t, j, u/j))" "$dir/report.json" "$n" "$start" "$end"
  kill $shop
  wait $shop 2>/dev/null || true
done | tee "$dir/runs.txt"
python3 -c "
import re, statistics, sys
text = open(sys.argv[1]).read()
plain = [float(m) for m in re.findall(r'plain clients: .* = (\d+) updates/s', text)]
raw = [float(m) for m in re.findall(r'plain clients \(raw\): .* = (\d+) updates/s', text)]
whole = [float(m) for m in re.findall(r'syncline: \d+ updates in [\d.]+ s = (\d+) updates/s', text)]
job = [float(m) for m in re.findall(r'in the job [\d.]+ s = (\d+) updates/s', text)]
for client, base in (('syncline\'s HTTP', plain), ('raw', raw)):
    for name, ours in (('whole process', whole), ('in the job', job)):
        ratios = sorted(o / p for o, p in zip(ours, base))
        print('syncline / double with %s clients, %s: %s; median %.0f %%' % (client, name, ', '.join('%.0f %%' % (100 * r) for r in ratios), 100 * statistics.median(ratios)))
" "$dir/runs.txt"
