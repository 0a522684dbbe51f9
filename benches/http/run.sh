#!/usr/bin/env bash
# The catalog pull (shared/reference/benchmarks.md): N catalog records as pre-generated pages of
# 100 (`/products?page=K`) served by nginx (one worker, sendfile on, gzip off), read (a) by a
# plain sequential keep-alive client that only reads each page (`raw`, the reference's limit)
# or also parses it (`parse`), and (b) by `syncline run benches/http/pull.yaml`, which keeps
# the active products, maps them and writes them as NDJSON; every record it writes is checked.
# Prints the wall times, RUNS rounds, then syncline's time over the raw client's per round.
#   benches/http/run.sh [N] [RUNS]        (defaults: 100000 records, 5 runs)
#   PULL=pull-unannounced [PREFETCH=true] benches/http/run.sh ...   pages not announced
# nginx is installed from Debian's packages when missing.
set -euo pipefail
cd "$(dirname "$0")/../.."
release=${CARGO_TARGET_DIR:-target}/release
n=${1:-100000}
runs=${2:-5}
dir=$PWD/target/bench/http-$n
mkdir -p "$dir"
cargo build --release --quiet --bin syncline --example syncline-bench
command -v nginx > /dev/null || PATH=$PATH:/usr/sbin
command -v nginx > /dev/null || { apt-get update -qq && apt-get install -y -qq nginx-light > /dev/null; }
[ -f "$dir/catalog.ndjson" ] || "$release/examples/syncline-bench" catalog "$n" "$dir/catalog.ndjson"
[ -f "$dir/pages/1.json" ] || "$release/examples/syncline-bench" pages "$dir/catalog.ndjson" 100 "$dir/pages"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat > "$dir/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $dir/nginx.pid;
error_log $dir/nginx-error.log;
events { worker_connections 64; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  gzip off;
  keepalive_requests 100000;
  default_type application/json;
  client_body_temp_path $dir/nginx-tmp;
  proxy_temp_path $dir/nginx-tmp;
  fastcgi_temp_path $dir/nginx-tmp;
  uwsgi_temp_path $dir/nginx-tmp;
  scgi_temp_path $dir/nginx-tmp;
  server {
    listen 127.0.0.1:$port;
    root $dir/pages;
    location = /products { try_files /\$arg_page.json =404; }
  }
}
CONF
nginx -c "$dir/nginx.conf" &
server=$!
trap 'kill $server' EXIT
sleep 0.5
export API_URL=http://127.0.0.1:$port SYNCLINE_BENCH_DIR=$dir
for i in $(seq "$runs"); do
  "$release/examples/syncline-bench" fetch "$API_URL" raw
  "$release/examples/syncline-bench" fetch "$API_URL" parse
  start=$(date +%s.%N)
  /usr/bin/time -f "syncline   %e s  %M KB" "$release/syncline" run "benches/http/${PULL:-pull}.yaml" \
    --state "$dir/state" --format json > "$dir/report.json"
  end=$(date +%s.%N)
  python3 -c "import json,sys; d=json.load(open(sys.argv[1]))['jobs'][0]; assert d['read']==int(sys.argv[2]), d; print('syncline: %d records read, %d written in %.3f s' % (d['read'], d['written'], float(sys.argv[4])-float(sys.argv[3])))" "$dir/report.json" "$n" "$start" "$end"
  python3 benches/http/check_pull.py "$dir/catalog.ndjson" "$dir/pulled.ndjson"
done | tee "$dir/runs.txt"
python3 -c "
import re, statistics, sys
text = open(sys.argv[1]).read()
raw = [float(m) for m in re.findall(r'plain client \(raw\): .* in ([\d.]+) s', text)]
parse = [float(m) for m in re.findall(r'plain client \(parse\): .* in ([\d.]+) s', text)]
ours = [float(m) for m in re.findall(r'syncline: .* in ([\d.]+) s', text)]
for name, base in (('raw', raw), ('parse', parse)):
    ratios = sorted(o / p for o, p in zip(ours, base))
    print('syncline / plain client (%s), per round: %s; median %.2f' % (name, ', '.join('%.2f' % r for r in ratios), statistics.median(ratios)))
" "$dir/runs.txt"
