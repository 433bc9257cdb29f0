#!/usr/bin/env bash
# A month's usage as the log stood at a moment, from the log alone: replay it as of --as-of into
# a fresh store, export the month by key and its request log, then ask DuckDB (README.md).
#
#   examples/analyst/report.sh --month YYYY-MM --as-of RFC3339 --out DIR \
#                              (--brokers H:P [--topic T] | --file LOG)
#
# KEYMETER (default: keymeter on PATH) and PYTHON (default: python3, with duckdb importable)
# choose the programs. DIR must not exist; it gets store/, usage-YYYY-MM.csv, requests/ and
# report.txt (also printed).
set -euo pipefail

month= asof= out= source=()
while [ $# -gt 0 ]; do
  case "$1" in
    --month) month=$2; shift 2 ;;
    --as-of) asof=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --brokers|--topic|--file) source+=("$1" "$2"); shift 2 ;;
    *) echo "report.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
if [ -z "$month" ] || [ -z "$asof" ] || [ -z "$out" ] || [ ${#source[@]} -eq 0 ]; then
  echo "usage: report.sh --month YYYY-MM --as-of RFC3339 --out DIR (--brokers H:P [--topic T] | --file LOG)" >&2
  exit 2
fi
keymeter=${KEYMETER:-keymeter}
python=${PYTHON:-python3}
first="$month-01"
last=$(date -u -d "$first +1 month -1 day" +%F)

mkdir -p "$(dirname "$out")"
mkdir "$out"
# 1. The store as of the moment: every partition up to its first message after --as-of.
"$keymeter" replay --data-dir "$out/store" "${source[@]}" --until "$asof" >&2
# 2. The month per key (complete=false says the month was still open as of that moment) ...
"$keymeter" export --data-dir "$out/store" --month "$month" --by key --output "$out/usage-$month.csv"
# 3. ... and its requests, one CSV per UTC day.
"$keymeter" export --data-dir "$out/store" --requests --from "$first" --to "$last" \
  --output-dir "$out/requests"
# 4. Questions for DuckDB: the files need no options.
"$python" - "$out" "$month" <<'PY' | tee "$out/report.txt"
import sys, duckdb
out, month = sys.argv[1], sys.argv[2]
usage = f"read_csv('{out}/usage-{month}.csv')"
requests = f"read_csv('{out}/requests/*.csv')"
total = duckdb.sql(f"select sum(requests), sum(units) from {usage}").fetchone()
logged = duckdb.sql(f"select count(*), sum(units) from {requests}").fetchone()
print(f"usage export: {total[0] or 0} requests, {total[1] or 0} units")
print(f"request log:  {logged[0]} requests, {logged[1] or 0} units")
print("top keys by units:")
for row in duckdb.sql(f"select root_key_id, key_id, sum(units) u from {usage} "
                      f"group by all order by u desc limit 5").fetchall():
    print(f"  root {row[0]}  key {row[1]}  {row[2]} units")
print("errors per day:")
for row in duckdb.sql(f"select cast(time as date) d, count(*) filter (where status >= 400) e, "
                      f"count(*) n from {requests} group by d order by d").fetchall():
    print(f"  {row[0]}  {row[1]} of {row[2]}")
PY
