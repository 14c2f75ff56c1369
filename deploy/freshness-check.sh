#!/bin/sh
# Freshness check (run daily at 09:00 by moco-traffic-stops-freshness.timer or cron): `status`
# exits 1 when the last successful load is older than PIPELINE_STALE_AFTER_DAYS, and with --alert
# sends the stale alert to PIPELINE_ALERT_WEBHOOK and/or PIPELINE_ALERT_SMTP (what is stale, what is
# still serving, what to run). It catches what a load can't report itself: the timer never fired,
# the host was down. Needs the load's environment; never prints a secret.
cd "$(dirname "$0")/.." || exit 2
exec .venv/bin/python -m pipeline status --alert
