#!/usr/bin/env bash
# Ships Caddy's access log (the Caddyfile's `log`, JSON) to keymeter as request events with
# POST /v1/events: one event per request keymeter allowed (X-Keymeter-Reason: OK in the response
# headers), under the request id keymeter reserved it with. Run it periodically (cron, a loop).
# Needs: KM (keymeter's base URL), CADDY_LOG (the log file), KM_GATEWAY_TOKEN (this gateway's
# token: the operator creates it with POST /v1/gateways), jq and curl. See README.md.
#
# Caddy writes the log itself and rolls it (100 MiB by default): the script remembers how many
# bytes of it it shipped in "$CADDY_LOG.shipped" and only ships whole lines after them. A log
# shorter than that was rolled: the rest of the newest rolled file is shipped first.
set -euo pipefail
export LC_ALL=C  # lengths in bytes
: "${KM:?KM=http://host:port of keymeter serve}"
: "${CADDY_LOG:?CADDY_LOG=the access log file of the Caddyfile}"
: "${KM_GATEWAY_TOKEN:?KM_GATEWAY_TOKEN=the token of POST /v1/gateways}"
state="$CADDY_LOG.shipped"
offset=$(cat "$state" 2>/dev/null || echo 0)

# Caddy's log lines → keymeter's NDJSON request events.
to_events() {
  jq -c 'select(.resp_headers["X-Keymeter-Reason"][0]? == "OK")
    | {request_id: .resp_headers["X-Request-Id"][0], key_id: .resp_headers["X-Keymeter-Key-Id"][0],
       time_us: ((.ts * 1000000) | floor),
       product: ((.request.uri | ltrimstr("/") | split("/")[0] | split("?")[0]) // ""),
       status: .status, bytes_out: .size, latency_us: ((.duration * 1000000) | floor),
       ip: .request.remote_ip, gateway: "caddy"}'
}

# Posts the events of `file` from byte `from` up to its last whole line; sets `shipped` to the
# offset after it.
ship() {
  local file=$1 from=$2 size chunk events answer
  shipped=$from
  size=$(stat -c %s "$file")
  chunk=$(tail -c +"$((from + 1))" "$file" | head -c "$((size - from))"; echo x)
  chunk=${chunk%x}  # (the x keeps $(...) from dropping the last newline)
  case "$chunk" in *$'\n'*) ;; *) return ;; esac  # no whole line yet
  chunk=${chunk%$'\n'*}  # whole lines only: Caddy may be writing the last one
  events=$(printf '%s\n' "$chunk" | to_events)
  if [ -n "$events" ]; then
    # The token goes in a header file read by curl, never on its command line (ps shows that).
    answer=$(printf '%s\n' "$events" | curl -sf -X POST "$KM/v1/events" \
      -H 'Content-Type: application/x-ndjson' \
      -H @<(printf 'Authorization: Bearer %s\n' "$KM_GATEWAY_TOKEN") --data-binary @-) ||
      { echo "ship-events: POST /v1/events failed; nothing marked shipped" >&2; exit 1; }
    echo "ship-events: $file: $answer"
  fi
  shipped=$((from + ${#chunk} + 1))
}

[ -e "$CADDY_LOG" ] || exit 0
if [ "$(stat -c %s "$CADDY_LOG")" -lt "$offset" ]; then  # rolled since the last run
  rolled=$(ls -t "${CADDY_LOG%.*}"-*."${CADDY_LOG##*.}" 2>/dev/null | head -1 || true)
  [ -n "$rolled" ] && ship "$rolled" "$offset"
  offset=0
fi
ship "$CADDY_LOG" "$offset"
echo "$shipped" > "$state.tmp"
mv "$state.tmp" "$state"
