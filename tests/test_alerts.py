"""A failed, abandoned or stale run reaches the maintainer by webhook and e-mail, with what happened,
what is still serving and what to run next, and never with a secret in it.

The e-mail goes to a real SMTP server (aiosmtpd) on 127.0.0.1, with a login, and over STARTTLS with
a certificate the client must verify.
"""

from __future__ import annotations

import datetime as dt
import gzip
import http.server
import ipaddress
import json
import os
import re
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import Message
from pathlib import Path
from typing import Iterator

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from pipeline import cli
from pipeline.alerts import alert_abandoned, alert_on_failure, failure_alert, sender_address
from pipeline.config import PROJECT_ROOT, SAMPLE_DIR, Settings
from tests.ports import closed_port

PASSWORD = "Al3rt-pw-Secret"
TOKEN = "Al3rt-token-Secret"
SMTP_USER = "alerts"
SMTP_PASSWORD = "Smtp-pw-Secret"
TO = "data-team@example.org, oncall@example.org"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# NOTE: free_port still binds and releases before the SMTP Controller starts on that port (a small
# race, not yet removed); a port that must stay closed comes from tests.ports, held for the run.


class Webhook:
    def __init__(self) -> None:
        self.posts: list[dict] = []
        self.headers: list[dict] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.posts.append(json.loads(body))
                outer.headers.append(dict(self.headers))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/T000/B000"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook()
    hook.thread.start()
    try:
        yield hook
    finally:
        hook.server.shutdown()
        hook.thread.join()


@dataclass
class Inbox:
    """What the SMTP server received: envelopes, parsed messages and the logins it accepted."""

    url: str = ""
    envelopes: list = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, ANN201, N802 - aiosmtpd's hook
        self.envelopes.append(envelope)
        return "250 OK"

    def authenticate(self, server, session, envelope, mechanism, auth_data):  # noqa: ANN001, ANN201
        ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
            SMTP_USER.encode(), SMTP_PASSWORD.encode())
        if ok:
            self.logins.append((auth_data.login.decode(), auth_data.password.decode()))
        return AuthResult(success=ok)

    @property
    def messages(self) -> list[Message]:
        return [message_from_bytes(e.original_content, policy=policy.default) for e in self.envelopes]

    @property
    def raw(self) -> str:
        return "\n".join(e.original_content.decode() for e in self.envelopes)


def body(mail: Message) -> str:
    return mail.get_payload(decode=True).decode().replace("\r\n", "\n")  # SMTP sends CRLF lines


def start_smtp(inbox: Inbox, **kwargs: object) -> Controller:
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, authenticator=inbox.authenticate,
                            auth_require_tls=False, **kwargs)
    controller.start()
    inbox.url = f"smtp://{SMTP_USER}:{SMTP_PASSWORD}@127.0.0.1:{port}"
    return controller


@pytest.fixture
def smtp() -> Iterator[Inbox]:
    inbox = Inbox()
    controller = start_smtp(inbox)
    try:
        yield inbox
    finally:
        controller.stop()


def run_cli(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("PIPELINE_", "SOCRATA_", "REDSHIFT_"))}
    base.update(PIPELINE_LAKE=str(tmp_path / "lake"), PYTHONPATH=str(PROJECT_ROOT), **env)
    return subprocess.run([sys.executable, "-m", "pipeline", *args], cwd=tmp_path, env=base,
                          capture_output=True, text=True, timeout=300)


def channels(webhook: Webhook, smtp: Inbox) -> dict[str, str]:
    return {"PIPELINE_ALERT_WEBHOOK": webhook.url, "PIPELINE_ALERT_SMTP": smtp.url, "PIPELINE_ALERT_EMAIL_TO": TO}


def assert_no_secret(webhook: Webhook, smtp: Inbox, *more: str) -> None:
    everything = json.dumps(webhook.posts) + json.dumps(webhook.headers) + smtp.raw + "".join(more)
    for secret in (PASSWORD, TOKEN, SMTP_PASSWORD):
        assert secret not in everything


def test_a_failed_run_reaches_webhook_and_email_with_what_to_do_and_no_secret(
        tmp_path: Path, webhook: Webhook, smtp: Inbox) -> None:
    env = {
        "PIPELINE_WAREHOUSE": f"postgresql://loader:{PASSWORD}@127.0.0.1:{closed_port()}/test",
        "SOCRATA_APP_TOKEN": TOKEN,
        **channels(webhook, smtp),
    }
    run = run_cli(tmp_path, env, "backfill", "--source", "sample")
    assert run.returncode == cli.EXIT_FAILED
    assert len(webhook.posts) == 1 and len(smtp.messages) == 1
    text = webhook.posts[0]["text"]
    mail = smtp.messages[0]
    assert mail["Subject"] == f"[traffic-stops] `backfill` FAILED on {socket.gethostname()}"
    assert body(mail) == text  # the same message on both channels
    assert sorted(smtp.envelopes[0].rcpt_tos) == ["data-team@example.org", "oncall@example.org"]
    assert smtp.logins == [(SMTP_USER, SMTP_PASSWORD)]  # the password was used to log in, and only there
    # what failed, with where (minus the password) ...
    assert "`python -m pipeline backfill` failed" in text and "WarehouseError" in text
    assert "loader:***@127.0.0.1" in text
    # ... what is still serving (here: the warehouse itself is down, and the alert says so) ...
    assert "Still serving: unknown, the warehouse could not be read (WarehouseError)" in text
    # ... and what to run.
    assert "python -m pipeline status" in text and "python -m pipeline backfill    # safe to repeat" in text
    assert_no_secret(webhook, smtp, run.stderr, run.stdout)


def test_a_failure_alert_says_what_the_dashboard_still_serves(sample_warehouse_copy: Settings, webhook: Webhook) -> None:
    settings = sample_warehouse_copy.with_overrides(alert_webhook_url=webhook.url)
    exc = RuntimeError(f"could not open postgresql://loader:{PASSWORD}@db.internal:5432/traffic")
    assert alert_on_failure(settings, "run", exc) == ["webhook"]
    text = webhook.posts[0]["text"]
    assert "Still serving: the data of the last successful load" in text
    assert "18,393 charges in 9,984 stops" in text  # the bundled sample, as loaded
    assert PASSWORD not in text and "loader:***@db.internal" in text
    assert text == failure_alert("run", exc, text.split("Still serving: ")[1].split("\n\n")[0]).text


def test_a_quality_failure_says_so_and_points_at_raw_and_quarantine(
        tmp_path: Path, webhook: Webhook, smtp: Inbox) -> None:
    empty = tmp_path / "export.csv"
    with gzip.open(SAMPLE_DIR / "mcpd_tv_sample_tolu238_2017.csv.gz", "rt") as src:
        empty.write_text(src.readline())  # a portal export with its header and no rows
    env = {"PIPELINE_WAREHOUSE": f"duckdb:///{tmp_path / 'wh.duckdb'}", **channels(webhook, smtp)}
    run = run_cli(tmp_path, env, "backfill", "--source", "file", "--file", str(empty))
    assert run.returncode == cli.EXIT_QUALITY, run.stderr[-2000:]
    text = webhook.posts[0]["text"]
    assert smtp.messages[0]["Subject"].startswith("[traffic-stops] `backfill`: quality check failed")
    assert "QualityError" in text and "(exit 3)" in text
    assert "raw/ zone" in text and "quarantine/" in text
    assert "Still serving: nothing: the warehouse has no data yet" in text


def test_an_abandoned_run_reaches_both_channels(webhook: Webhook, smtp: Inbox) -> None:
    settings = Settings(warehouse_url=f"postgresql://loader:{PASSWORD}@db.internal:5432/traffic",
                        alert_webhook_url=webhook.url, alert_smtp_url=smtp.url, alert_email_to=TO)
    started = dt.datetime(2026, 11, 29, 12, 0, 5, tzinfo=dt.timezone.utc)
    assert alert_abandoned(settings, "r-20261129-120005-ab12", "run", started) == ["webhook", "email"]
    text = webhook.posts[0]["text"]
    mail = smtp.messages[0]
    assert "r-20261129-120005-ab12" in mail["Subject"] and "abandoned" in mail["Subject"]
    assert "`python -m pipeline run` started 2026-11-29 12:00 UTC, never finished" in text
    assert "Still serving: the data of the last successful load, unchanged" in text
    assert "journalctl -u moco-traffic-stops -S '2026-11-29 12:00 UTC'" in text and "PIPELINE_MEMORY_LIMIT" in text
    assert body(mail) == text
    assert_no_secret(webhook, smtp)


def test_an_abandoned_alert_with_dead_channels_never_raises(caplog: pytest.LogCaptureFixture) -> None:
    settings = Settings(alert_webhook_url=f"http://127.0.0.1:{closed_port()}/hook?key=hook-key",
                        alert_smtp_url=f"smtp://{SMTP_USER}:{SMTP_PASSWORD}@127.0.0.1:{closed_port()}",
                        alert_email_to=TO)
    alert_abandoned(settings, "r-1", "run", "2026-11-29 12:00:05")
    assert "alert webhook failed: URLError" in caplog.text and "alert e-mail failed: ConnectionRefusedError" in caplog.text
    assert "hook-key" not in caplog.text and SMTP_PASSWORD not in caplog.text


def stale_env(settings: Settings, webhook: Webhook, smtp: Inbox, **more: str) -> dict[str, str]:
    return {"PIPELINE_WAREHOUSE": settings.warehouse_url, **channels(webhook, smtp), **more}


def test_status_alert_sends_the_stale_alert_when_the_data_is_old(
        sample_warehouse_copy: Settings, tmp_path: Path, webhook: Webhook, smtp: Inbox) -> None:
    env = stale_env(sample_warehouse_copy, webhook, smtp, PIPELINE_STALE_AFTER_DAYS="0")
    run = run_cli(tmp_path, env, "status", "--alert")
    assert run.returncode == cli.EXIT_FAILED and "STALE" in run.stdout
    text = webhook.posts[0]["text"]
    assert smtp.messages[0]["Subject"] == f"[traffic-stops] data is STALE on {socket.gethostname()}"
    assert "past the 0-day limit (PIPELINE_STALE_AFTER_DAYS)" in text
    assert "The latest run: `backfill` started" in text and "success" in text
    assert "18,393 charges in 9,984 stops" in text
    assert "python -m pipeline run    # load now" in text and "systemctl list-timers" in text


def test_status_without_alert_or_with_fresh_data_sends_nothing(
        sample_warehouse_copy: Settings, tmp_path: Path, webhook: Webhook, smtp: Inbox) -> None:
    stale = stale_env(sample_warehouse_copy, webhook, smtp, PIPELINE_STALE_AFTER_DAYS="0")
    assert run_cli(tmp_path, stale, "status").returncode == cli.EXIT_FAILED  # stale, but not asked to alert
    fresh = stale_env(sample_warehouse_copy, webhook, smtp)  # loaded minutes ago; the limit is 2 days
    assert run_cli(tmp_path, fresh, "status", "--alert").returncode == cli.EXIT_OK
    assert webhook.posts == [] and smtp.envelopes == []


def test_a_stale_postgresql_warehouse_alerts_without_its_password(
        tmp_path: Path, webhook: Webhook, smtp: Inbox) -> None:
    from tests.pg_fixtures import PG_URL

    url = PG_URL.replace("postgresql://postgres@", f"postgresql://postgres:{PASSWORD}@")
    assert PASSWORD in url, "TEST_PG_URL must name the user as postgresql://postgres@..."
    schema = f"t_alert_{os.getpid()}"  # never created: an empty warehouse is the stalest there is
    run = run_cli(tmp_path, {"PIPELINE_WAREHOUSE": f"{url}?schema={schema}", **channels(webhook, smtp)},
                  "status", "--alert")
    assert run.returncode == cli.EXIT_FAILED, run.stderr[-2000:]
    text = webhook.posts[0]["text"]
    assert "data is STALE" in text and "postgres:***@127.0.0.1" in text
    assert "Still serving: nothing: the warehouse has no data yet" in text
    assert_no_secret(webhook, smtp, run.stdout, run.stderr)


def test_the_freshness_check_script_alerts_through_the_pipeline(
        sample_warehouse_copy: Settings, tmp_path: Path, webhook: Webhook, smtp: Inbox) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIPELINE_", "SOCRATA_"))}
    env.update(stale_env(sample_warehouse_copy, webhook, smtp, PIPELINE_STALE_AFTER_DAYS="0"),
               PIPELINE_LAKE=str(tmp_path / "lake"))
    run = subprocess.run(["sh", str(PROJECT_ROOT / "deploy" / "freshness-check.sh")], env=env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 1, run.stderr
    assert len(webhook.posts) == 1 and len(smtp.envelopes) == 1
    assert "data is STALE" in webhook.posts[0]["text"]
    fresh = {**env, "PIPELINE_STALE_AFTER_DAYS": "2"}
    assert subprocess.run(["sh", str(PROJECT_ROOT / "deploy" / "freshness-check.sh")], env=fresh,
                          capture_output=True, text=True, timeout=120).returncode == 0
    assert len(webhook.posts) == 1


def test_a_successful_run_sends_nothing(tmp_path: Path, webhook: Webhook, smtp: Inbox) -> None:
    env = {"PIPELINE_WAREHOUSE": f"duckdb:///{tmp_path / 'wh.duckdb'}", **channels(webhook, smtp)}
    run = run_cli(tmp_path, env, "backfill", "--source", "sample")
    assert run.returncode == cli.EXIT_OK, run.stderr[-2000:]
    assert webhook.posts == [] and smtp.envelopes == []


def test_an_unreachable_webhook_does_not_change_the_exit_code(tmp_path: Path) -> None:
    env = {
        "PIPELINE_WAREHOUSE": f"postgresql://loader:{PASSWORD}@127.0.0.1:{closed_port()}/test",
        "PIPELINE_ALERT_WEBHOOK": f"http://127.0.0.1:{closed_port()}/hook?secret=hook-key",
    }
    run = run_cli(tmp_path, env, "backfill", "--source", "sample")
    assert run.returncode == cli.EXIT_FAILED
    assert "alert webhook failed" in run.stderr
    assert "hook-key" not in run.stderr and PASSWORD not in run.stderr  # a Slack hook URL is a secret too


# --- e-mail transport: TLS, logins, addresses ---------------------------------------------------

def self_signed(tmp_path: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key (the certificate is its own CA)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test SMTP")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "smtp.pem", tmp_path / "smtp.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@pytest.fixture
def tls_smtp(tmp_path: Path) -> Iterator[tuple[Inbox, Path]]:
    import ssl

    cert, key = self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    inbox = Inbox()
    controller = start_smtp(inbox, tls_context=context, require_starttls=True)
    try:
        yield inbox, cert
    finally:
        controller.stop()


def test_email_uses_starttls_and_verifies_the_certificate(
        tls_smtp: tuple[Inbox, Path], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    inbox, cert = tls_smtp
    settings = Settings(alert_smtp_url=inbox.url, alert_email_to=TO)
    # An unknown certificate: refused before the login, so the password never leaves.
    assert alert_abandoned(settings, "r-1", "run", None) == []  # the e-mail failed: no channel reached
    assert inbox.envelopes == [] and inbox.logins == []
    assert "alert e-mail failed: SSLCertVerificationError" in caplog.text
    # The same server once its certificate is trusted (OpenSSL reads SSL_CERT_FILE): delivered over TLS.
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    assert alert_abandoned(settings, "r-2", "run", None) == ["email"]
    assert len(inbox.envelopes) == 1 and inbox.logins == [(SMTP_USER, SMTP_PASSWORD)]
    assert "r-2" in inbox.messages[0]["Subject"]


@pytest.mark.parametrize(("username", "recipients", "sender"), [
    ("alerts@example.org", ["a@example.org"], "alerts@example.org"),
    ("AKIAEXAMPLEKEYID", ["a@example.org", "b@example.org"], "a@example.org"),  # an SES login is no address
    (None, ["a@example.org"], "a@example.org"),
])
def test_the_sender_is_the_login_when_it_is_an_address_else_the_first_recipient(
        username: str | None, recipients: list[str], sender: str) -> None:
    assert sender_address(username, recipients) == sender



def test_a_killed_run_is_reported_as_abandoned_by_the_next_load(tmp_path: Path, webhook: Webhook, smtp: Inbox) -> None:
    """A real load SIGKILLed mid-way (after its extract); the next load finds its `running` row,
    marks it abandoned and alerts both channels with its run id."""
    import signal
    import time

    env = {"PIPELINE_WAREHOUSE": f"duckdb:///{tmp_path / 'wh.duckdb'}", **channels(webhook, smtp)}
    base = {k: v for k, v in os.environ.items() if not k.startswith(("PIPELINE_", "SOCRATA_", "REDSHIFT_"))}
    paused = tmp_path / "paused"
    base.update(PIPELINE_LAKE=str(tmp_path / "lake"), PYTHONPATH=str(PROJECT_ROOT), PIPELINE_TEST_PAUSE_AT="extracted",
                PIPELINE_TEST_PAUSE_FILE=str(paused), **env)
    victim = subprocess.Popen([sys.executable, "-m", "pipeline", "backfill", "--source", "sample"], cwd=tmp_path,
                              env=base, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while not paused.exists():
        assert victim.poll() is None and time.monotonic() < deadline, "the load never reached its pause point"
        time.sleep(0.2)
    victim.send_signal(signal.SIGKILL)
    _, stderr = victim.communicate(timeout=30)
    run_id = re.search(r"run (\S+): backfill", stderr).group(1)
    assert webhook.posts == []  # a killed process tells no one: the next run must

    again = run_cli(tmp_path, env, "backfill", "--source", "sample")
    assert again.returncode == cli.EXIT_OK, again.stderr[-2000:]
    assert len(webhook.posts) == 1 and len(smtp.envelopes) == 1
    text = webhook.posts[0]["text"]
    assert f"run {run_id}, `python -m pipeline backfill` started" in text and "never finished" in text
    assert smtp.messages[0]["Subject"].startswith(f"[traffic-stops] run {run_id} (`backfill`) was abandoned")
