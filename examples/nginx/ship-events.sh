#!/usr/bin/env bash
# Ships nginx's request-event log (keymeter.conf's logs/events.ndjson) to keymeter with
# POST /v1/events. Run it periodically (cron, a loop). Needs: KM (keymeter's base URL),
# NGINX_PREFIX (the -p prefix), KM_GATEWAY_TOKEN (this gateway's token: the operator creates it
# with POST /v1/gateways). See README.md.
set -euo pipefail
: "${KM:?KM=http://host:port of keymeter serve}"
: "${NGINX_PREFIX:?NGINX_PREFIX=the nginx -p prefix}"
: "${KM_GATEWAY_TOKEN:?KM_GATEWAY_TOKEN=the token of POST /v1/gateways}"
log="$NGINX_PREFIX/logs/events.ndjson"
pid=$(cat "$NGINX_PREFIX/nginx.pid")

# Rotate: move the file away and have nginx reopen its logs (SIGUSR1).
if [ -s "$log" ]; then
  mv "$log" "$log.$(date -u +%Y%m%dT%H%M%S).$$"
  kill -USR1 "$pid"
  sleep 1  # let the workers finish writing to the old file
fi

# Post every rotated file, oldest first; keep it when the POST fails (retried next run).
for f in "$log".*; do
  [ -e "$f" ] || continue
  if [ -s "$f" ]; then
    # The token goes in a header file read by curl, never on its command line (ps shows that).
    answer=$(curl -sf -X POST "$KM/v1/events" -H 'Content-Type: application/x-ndjson' \
      -H @<(printf 'Authorization: Bearer %s\n' "$KM_GATEWAY_TOKEN") \
      --data-binary @"$f") || { echo "ship-events: POST /v1/events failed for $f" >&2; exit 1; }
    echo "ship-events: $f: $answer"
  fi
  rm -f "$f"
done
