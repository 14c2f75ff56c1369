"""Tell a maintainer when the data stops being refreshed: a run that failed, a run that died
(abandoned) or data gone stale reach the webhook (Slack/Teams/any JSON endpoint) and e-mail.

Each alert says what happened, what the dashboard is still serving, and what to run next. No
secret ever leaves: every text goes through :func:`redact_url`, and the channels' own URLs (a Slack
hook is a bearer secret, the SMTP URL holds a password) are never logged or quoted.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import smtplib
import socket
import ssl
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timezone
from email.message import EmailMessage
from typing import Any, Mapping
from urllib.parse import unquote, urlsplit

from .config import Settings, redact_url

log = logging.getLogger(__name__)

PRODUCT = "Montgomery County traffic-stops pipeline"
STATUS_HINT = "python -m pipeline status    # the data's age and the last runs, with their messages"


@dataclass(frozen=True)
class Alert:
    """One message, the same on every channel; ``subject`` is its first line (and the e-mail subject)."""

    subject: str
    happened: str
    serving: str
    next_steps: tuple[str, ...]

    @property
    def text(self) -> str:
        steps = "\n".join(f"  {step}" for step in self.next_steps)
        return redact_url(f"{self.subject}\n\nWhat happened: {self.happened}\n\nStill serving: {self.serving}\n\n"
                          f"What to run next:\n{steps}\n")


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _when(value: Any) -> str:
    """A timestamp from the run log (naive UTC) or the caller, to the minute."""
    if value is None or str(value) in ("NaT", "None", ""):
        return "never"
    if isinstance(value, datetime):
        value = value.astimezone(timezone.utc).replace(tzinfo=None) if value.tzinfo else value
        return value.strftime("%Y-%m-%d %H:%M UTC")
    return f"{str(value)[:16]} UTC"


def serving_from_report(report: Mapping[str, Any]) -> str:
    """What the dashboard shows meanwhile, from :func:`pipeline.status.status_report`."""
    counts = report.get("counts")
    if not counts or not int(counts.get("charges") or 0):
        return "nothing: the warehouse has no data yet (no load has succeeded), so the dashboard shows none."
    age = report.get("age_days")
    age_text = f", {age:.1f} days ago" if isinstance(age, (int, float)) else ""
    return (f"the data of the last successful load ({_when(counts.get('last_success_at'))}{age_text}): "
            f"{int(counts['charges']):,} charges in {int(counts['stops']):,} stops, stop dates up to "
            f"{str(counts.get('last_stop'))[:10]}. Nothing is removed or half-loaded while it waits.")


def current_serving(settings: Settings) -> str:
    """What is serving now, read from the warehouse; never raises (the warehouse may be what failed)."""
    try:
        from .status import status_report

        return serving_from_report(status_report(settings))
    except Exception as err:  # noqa: BLE001 - an alert must go out even when the warehouse is down
        return (f"unknown, the warehouse could not be read ({type(err).__name__}). A failed run never "
                "publishes, so the dashboard serves whatever the last successful load left, if the "
                "warehouse is up.")


def failure_alert(command: str, exc: BaseException, serving: str) -> Alert:
    from .quality import QualityError

    what = f"{type(exc).__name__}: {redact_url(str(exc))[:1500]}"
    if isinstance(exc, QualityError):
        return Alert(
            subject=f"[traffic-stops] `{command}`: quality check failed on {socket.gethostname()}",
            happened=(f"`python -m pipeline {command}` stopped at {_now()} because a check did not pass "
                      f"(exit 3); nothing was published. {what}"),
            serving=serving,
            next_steps=(STATUS_HINT,
                        "read the failed check above; the rows as received are kept in the lake's raw/ zone "
                        "and rejected rows with their reasons in quarantine/",
                        f"python -m pipeline {command}    # again once the source or the check is fixed"),
        )
    return Alert(
        subject=f"[traffic-stops] `{command}` FAILED on {socket.gethostname()}",
        happened=f"`python -m pipeline {command}` failed at {_now()} (exit 1); nothing was published. {what}",
        serving=serving,
        next_steps=(STATUS_HINT,
                    "fix the cause above (network, warehouse, disk, credentials), then:",
                    f"python -m pipeline {command}    # safe to repeat: the watermark moves only with committed data"),
    )


def abandoned_alert(run_id: str, command: str, started_at: Any) -> Alert:
    return Alert(
        subject=f"[traffic-stops] run {run_id} (`{command}`) was abandoned on {socket.gethostname()}",
        happened=(f"run {run_id}, `python -m pipeline {command}` started {_when(started_at)}, never finished "
                  "(killed, out of memory, or the host went down) and has been marked abandoned. Its "
                  "changes were never committed, and the run that found it removed what it left behind."),
        serving=("the data of the last successful load, unchanged. The load now running resumes from "
                 "the stored watermark, so nothing the dead run was fetching is skipped."),
        next_steps=(STATUS_HINT,
                    f"journalctl -u moco-traffic-stops -S '{_when(started_at)}'    # why it died "
                    "(or the cron log); an out-of-memory kill: lower PIPELINE_MEMORY_LIMIT or add RAM",
                    "nothing else if the current run succeeds; otherwise its own alert follows"),
    )


def stale_alert(settings: Settings, report: Mapping[str, Any]) -> Alert:
    runs = report.get("runs") or []
    latest = runs[0] if runs else None
    latest_text = (f" The latest run: `{latest.get('command')}` started {_when(latest.get('started_at'))}, "
                   f"{latest.get('status')}: {str(latest.get('message') or '')[:300]}" if latest else "")
    age = report.get("age_days")
    age_text = f"{age:.1f} days ago" if isinstance(age, (int, float)) else "never"
    return Alert(
        subject=f"[traffic-stops] data is STALE on {socket.gethostname()}",
        happened=(f"the last successful load was {age_text}, past the {settings.stale_after_days:g}-day limit "
                  f"(PIPELINE_STALE_AFTER_DAYS); warehouse {settings.redacted_warehouse}.{latest_text}"),
        serving=serving_from_report(report),
        next_steps=(STATUS_HINT,
                    "systemctl list-timers 'moco-*'; journalctl -u moco-traffic-stops -e    "
                    "# did the schedule fire? (cron: /var/log/moco-traffic-stops/pipeline.log)",
                    "python -m pipeline run    # load now; it catches up from the stored watermark"),
    )


def send_webhook(url: str, text: str, timeout: float = 10.0) -> None:
    body = json.dumps({"text": text}).encode()
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - URL comes from the operator's env
        resp.read()


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def sender_address(username: str | None, recipients: list[str]) -> str:
    """The From address: the SMTP login when it is an address, else the first recipient.

    (A login such as an SES key id is not an address, and need not be shown to anyone.)
    """
    return username if username and "@" in username else recipients[0]


def send_email(smtp_url: str, to: str, subject: str, text: str, timeout: float = 10.0) -> None:
    """Send through ``smtp://user:password@host:587`` (STARTTLS) or ``smtps://user:password@host:465`` (TLS).

    Certificates are verified. A password is only ever sent over TLS, except to a server on this
    machine (a local relay); without a login, plain ``smtp://host:25`` is allowed.
    """
    parts = urlsplit(smtp_url)
    if parts.scheme not in ("smtp", "smtps"):
        raise ValueError("PIPELINE_ALERT_SMTP must start with smtp:// or smtps://")
    host = parts.hostname or "localhost"
    username = unquote(parts.username) if parts.username else None
    recipients = [addr.strip() for addr in to.split(",") if addr.strip()]
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = sender_address(username, recipients)
    msg["To"] = ", ".join(recipients)
    msg.set_content(text)
    context = ssl.create_default_context()
    if parts.scheme == "smtps":
        server: smtplib.SMTP = smtplib.SMTP_SSL(host, parts.port or 465, timeout=timeout, context=context)
    else:
        server = smtplib.SMTP(host, parts.port or 25, timeout=timeout)
    with server:
        if parts.scheme == "smtp" and (username or parts.port == 587):
            server.ehlo()
            if server.has_extn("starttls"):
                server.starttls(context=context)
                server.ehlo()
            elif username and not _is_loopback(host):
                raise ConnectionError(f"the SMTP server {host} offers no STARTTLS: the password is not sent in clear")
        if username:
            server.login(username, unquote(parts.password or ""))
        server.send_message(msg, to_addrs=recipients)


def send_alert(settings: Settings, alert: Alert) -> list[str]:
    """Send to every configured channel; a channel that fails is logged (error type only), never raised."""
    sent: list[str] = []
    text = alert.text
    if settings.alert_webhook_url:
        try:
            send_webhook(settings.alert_webhook_url, text)
            sent.append("webhook")
        except Exception as err:  # noqa: BLE001
            log.error("alert webhook failed: %s", type(err).__name__)
    if settings.alert_smtp_url and settings.alert_email_to:
        try:
            send_email(settings.alert_smtp_url, settings.alert_email_to, alert.subject, text)
            sent.append("email")
        except Exception as err:  # noqa: BLE001
            log.error("alert e-mail failed: %s", type(err).__name__)
    if sent:
        log.info("alert sent (%s): %s", ", ".join(sent), alert.subject)
    return sent


def _configured(settings: Settings) -> bool:
    return bool(settings.alert_webhook_url or (settings.alert_smtp_url and settings.alert_email_to))


def alert_on_failure(settings: Settings, command: str, exc: BaseException) -> list[str]:
    """A run failed (exit 1) or a quality check stopped it (exit 3). Returns the channels used."""
    if not _configured(settings):
        return []
    return send_alert(settings, failure_alert(command, exc, current_serving(settings)))


def alert_abandoned(settings: Settings, run_id: str, command: str, started_at: Any) -> list[str]:
    """A load found run ``run_id`` dead (still 'running' in the run log) and marked it abandoned."""
    if not _configured(settings):
        return []
    return send_alert(settings, abandoned_alert(run_id, command, started_at))


def alert_stale(settings: Settings, report: Mapping[str, Any]) -> list[str]:
    """``status --alert`` found the data older than PIPELINE_STALE_AFTER_DAYS (or no data at all)."""
    if not _configured(settings):
        log.warning("data is stale but no alert channel is configured (PIPELINE_ALERT_WEBHOOK / PIPELINE_ALERT_SMTP)")
        return []
    return send_alert(settings, stale_alert(settings, report))
