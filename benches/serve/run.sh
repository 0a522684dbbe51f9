#!/usr/bin/env bash
# `syncline serve` with many client pipelines on a clock (benchmarks.md, serve): N pipelines of
# 5 jobs each, every job due every minute, each run with nothing to do (an empty export appended
# to an import folder: no file is written). Measures, over M minutes after the first one:
#   - idle memory: the process's resident set between runs (min / median / max of 1 s samples);
#   - CPU per scheduled run: the process's CPU time over the measured minutes / runs in them;
#   - how late a run starts after its time (p50 / p99 / max), from the `late_ms` of each
#     "run ended" log line (the time the scheduler fired to the time the run had its turn).
# Usage: benches/serve/run.sh [PIPELINES=200] [MINUTES=3] [CONCURRENCY=16]
set -euo pipefail
cd "$(dirname "$0")/../.."
PIPELINES="${1:-200}"; MINUTES="${2:-3}"; CONCURRENCY="${3:-16}"
cargo build --release --quiet
BIN="$PWD/target/release/syncline"
WORK="$(mktemp -d /tmp/syncline-serve-bench.XXXX)"
trap 'kill $PID 2>/dev/null || true; rm -rf "$WORK"' EXIT
mkdir -p "$WORK/clients" "$WORK/data"
printf 'code;name\n' > "$WORK/data/empty.csv"
for p in $(seq 1 "$PIPELINES"); do
  {
    echo "version: 1"
    echo "name: client-$p"
    echo "connections:"
    echo "  erp: { file: { dir: $WORK/data } }"
    echo "  import: { file: { dir: $WORK/import-$p } }"
    echo "jobs:"
    for j in 1 2 3 4 5; do
      echo "  job$j:"
      echo "    schedule: \"* * * * *\""
      echo "    from: { file: { connection: erp, path: empty.csv, csv: { delimiter: \";\" } } }"
      echo "    map: { code: \$.code, name: \$.name }"
      echo "    to: { file: { connection: import, path: job$j.csv, mode: append } }"
    done
  } > "$WORK/clients/client-$p.yaml"
done
PORT=$((20000 + RANDOM % 10000))
SYNCLINE_LOG=info "$BIN" serve "$WORK/clients" --state "$WORK/state" --listen "127.0.0.1:$PORT" \
  --concurrency "$CONCURRENCY" 2> "$WORK/log.jsonl" &
PID=$!
ticks() { awk '{print $14 + $15}' "/proc/$PID/stat"; }
rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$PID/status"; }
HZ=$(getconf CLK_TCK)
# Wait for the first minute's runs to pass, then measure whole minutes.
sleep $(( 61 - $(date +%-S) ))
sleep 20
START_TICKS=$(ticks); START_RUNS=$(grep -c '"run ended"' "$WORK/log.jsonl" || true)
: > "$WORK/rss"
END=$(( $(date +%s) + 60 * MINUTES ))
while [ "$(date +%s)" -lt "$END" ]; do
  sec=$(date +%-S)
  # Between runs: from 20 s after the minute to its end.
  if [ "$sec" -ge 20 ]; then rss_kib >> "$WORK/rss"; fi
  sleep 1
done
END_TICKS=$(ticks); END_RUNS=$(grep -c '"run ended"' "$WORK/log.jsonl" || true)
RUNS=$(( END_RUNS - START_RUNS ))
python3 - "$WORK" "$RUNS" "$START_TICKS" "$END_TICKS" "$HZ" "$START_RUNS" "$END_RUNS" "$PIPELINES" "$MINUTES" "$CONCURRENCY" <<'PY'
import json, statistics, sys
work, runs, t0, t1, hz, r0, r1, pipelines, minutes, concurrency = sys.argv[1:]
runs, t0, t1, hz, r0, r1 = int(runs), int(t0), int(t1), int(hz), int(r0), int(r1)
rss = sorted(int(l) for l in open(f"{work}/rss") if l.strip())
late = []
failed = 0
ended = 0
for line in open(f"{work}/log.jsonl"):
    try:
        event = json.loads(line)
    except ValueError:
        continue
    fields = event.get("fields", {})
    if fields.get("message") == "run ended":
        if r0 <= ended < r1:
            late.append(int(fields.get("late_ms", 0)))
        ended += 1
    if event.get("level") == "ERROR":
        failed += 1
late.sort()
pct = lambda q: late[min(len(late) - 1, int(q * len(late)))] if late else 0
cpu_s = (t1 - t0) / hz
print(f"pipelines {pipelines} x 5 jobs, every minute, concurrency {concurrency}, {minutes} min measured")
print(f"runs measured: {runs} (expected {int(pipelines) * 5 * int(minutes)}); error lines: {failed}")
print(f"idle RSS: min {rss[0]/1024:.1f} MiB, median {statistics.median(rss)/1024:.1f} MiB, max {rss[-1]/1024:.1f} MiB")
print(f"CPU: {cpu_s:.2f} s over {minutes} min = {1000*cpu_s/max(runs,1):.2f} ms per run")
print(f"start delay: p50 {pct(0.5)} ms, p99 {pct(0.99)} ms, max {late[-1] if late else 0} ms")
PY
