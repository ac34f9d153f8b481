#!/bin/sh
# Sign an order event and POST it to the journey service, as a store backend would:
#   examples/post_event.sh placed          (or delivered, cancelled, returned, ...)
# JOURNEY_URL (default http://localhost:8000) and STORE_SECRET (default: the example
# store's, examples/stores/loja-exemplo.json) choose where and with what key.
set -eu
URL=${JOURNEY_URL:-http://localhost:8000}
SECRET=${STORE_SECRET:-dev-only-secret-for-loja-exemplo-0123456789}
KIND=${1:-placed}
HERE=$(dirname "$0")

# The order as the store knows it, and the event, stamped now.
BODY=$(jq -c --arg kind "$KIND" --arg now "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
  '{order: del(.delivered_at),
    event: {event_id: ("evt-1001-" + $kind), type: $kind, occurred_at: $now}}' \
  "$HERE/order.json")

# X-Journey-Signature: sha256=HMAC-SHA256(secret, "{timestamp}.{body}")
TIMESTAMP=$(date +%s)
SIGNATURE=$(printf '%s.%s' "$TIMESTAMP" "$BODY" | openssl dgst -sha256 -hmac "$SECRET" | sed 's/^.*= //')

curl -sS -X POST "$URL/v1/stores/loja-exemplo/events" \
  -H 'Content-Type: application/json' \
  -H "X-Journey-Timestamp: $TIMESTAMP" \
  -H "X-Journey-Signature: sha256=$SIGNATURE" \
  --data-binary "$BODY"
echo
