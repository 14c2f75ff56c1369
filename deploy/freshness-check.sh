#!/bin/sh
# Freshness check (run daily at 09:00 by moco-traffic-stops-freshness.timer or cron): `status`
# exits 1 when the last successful load is older than PIPELINE_STALE_AFTER_DAYS. Then post to the
# webhook, which catches what the pipeline can't report itself (the timer never fired, host down...).
# Needs the same environment as the load; never prints the webhook URL (it is a secret).
cd "$(dirname "$0")/.." || exit 2
if .venv/bin/python -m pipeline status >/dev/null; then
    exit 0
fi
message="Montgomery County traffic-stops data is STALE on $(hostname): run 'python -m pipeline status'"
if [ -n "${PIPELINE_ALERT_WEBHOOK:-}" ]; then
    curl -fsS -m 20 -o /dev/null -H "Content-Type: application/json" \
        -d "{\"text\": \"$message\"}" "$PIPELINE_ALERT_WEBHOOK" || echo "freshness alert: webhook failed" >&2
fi
echo "$message" >&2
exit 1
