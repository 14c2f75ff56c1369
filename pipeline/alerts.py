"""Tell a maintainer when a scheduled run fails: a webhook (Slack/Teams/any JSON endpoint) or e-mail."""

from __future__ import annotations

import json
import logging
import smtplib
import socket
import urllib.request
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

from .config import Settings, redact_url

log = logging.getLogger(__name__)


def failure_text(command: str, exc: BaseException) -> str:
    return (
        f"Montgomery County traffic-stops pipeline: `{command}` failed on {socket.gethostname()}: "
        f"{type(exc).__name__}: {redact_url(str(exc))[:1500]}. The previous data is still being served."
    )


def send_webhook(url: str, text: str, timeout: float = 10.0) -> None:
    body = json.dumps({"text": text}).encode()
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - URL comes from the operator's env
        resp.read()


def send_email(smtp_url: str, to: str, text: str, timeout: float = 10.0) -> None:
    """``smtp_url`` like ``smtp://user:password@host:587`` (STARTTLS) or ``smtps://...:465``."""
    parts = urlsplit(smtp_url)
    cls = smtplib.SMTP_SSL if parts.scheme == "smtps" else smtplib.SMTP
    msg = EmailMessage()
    msg["Subject"] = "traffic-stops pipeline failed"
    msg["From"] = unquote(parts.username or "pipeline") + "@" + (parts.hostname or "localhost")
    msg["To"] = to
    msg.set_content(text)
    with cls(parts.hostname or "localhost", parts.port or (465 if parts.scheme == "smtps" else 25), timeout=timeout) as smtp:
        if parts.scheme == "smtp" and parts.port == 587:
            smtp.starttls()
        if parts.username:
            smtp.login(unquote(parts.username), unquote(parts.password or ""))
        smtp.send_message(msg)


def alert_on_failure(settings: Settings, command: str, exc: BaseException) -> list[str]:
    """Send every configured alert; an alert that fails is logged, never raised. Returns channels used."""
    text = failure_text(command, exc)
    sent: list[str] = []
    if settings.alert_webhook_url:
        try:
            send_webhook(settings.alert_webhook_url, text)
            sent.append("webhook")
        except Exception as err:  # noqa: BLE001
            log.error("alert webhook failed: %s", type(err).__name__)
    if settings.alert_smtp_url and settings.alert_email_to:
        try:
            send_email(settings.alert_smtp_url, settings.alert_email_to, text)
            sent.append("email")
        except Exception as err:  # noqa: BLE001
            log.error("alert e-mail failed: %s", type(err).__name__)
    return sent


def alert_abandoned(settings: Settings, run_id: str, command: str, started_at: object) -> list[str]:
    """A run died without recording how it ended (killed, machine lost); the next run found it."""
    text = (
        f"Montgomery County traffic-stops pipeline: run {run_id} (`{command}`, started {started_at}) on "
        f"{socket.gethostname()} stopped without finishing and was marked abandoned by the next run, which "
        "repaired what it left. Nothing it loaded was published; the data served is the last successful load."
    )
    sent: list[str] = []
    for channel, send in (("webhook", lambda: send_webhook(settings.alert_webhook_url, text)),
                          ("email", lambda: send_email(settings.alert_smtp_url, settings.alert_email_to, text))):
        configured = settings.alert_webhook_url if channel == "webhook" else (settings.alert_smtp_url and settings.alert_email_to)
        if not configured:
            continue
        try:
            send()
            sent.append(channel)
        except Exception as err:  # noqa: BLE001
            log.error("alert %s failed: %s", channel, type(err).__name__)
    return sent
