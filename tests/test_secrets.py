"""A warehouse password and the Socrata app token never appear in logs, stderr or exception messages."""

from __future__ import annotations

import http.server
import json
import logging
import os
import subprocess
import sys
import threading
import traceback
from pathlib import Path
from typing import Iterator

import pytest

from pipeline import cli
from pipeline.config import PROJECT_ROOT, Settings, load_settings
from pipeline.warehouse import WarehouseError, open_warehouse
from tests.ports import closed_port

pytest_plugins = ["tests.pg_fixtures"]

PASSWORD = "Pw-9f3Kq!x7"
ENCODED_PASSWORD = "p%40ss%3Aw%2Frd%25Zq"  # the URL form of ...
DECODED_PASSWORD = "p@ss:w/rd%Zq"          # ... this password
TOKEN = "AppTok3n-5ecret-Value"
SECRETS = (PASSWORD, DECODED_PASSWORD, ENCODED_PASSWORD, TOKEN)



def assert_clean(*texts: str) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in text, f"a secret leaked: ...{text[max(0, text.find(secret) - 80):text.find(secret) + 40]}..."


def run_cli(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("PIPELINE_", "SOCRATA_", "REDSHIFT_"))}
    base.update(PIPELINE_LAKE=str(tmp_path / "lake"), PYTHONPATH=str(PROJECT_ROOT), **env)
    return subprocess.run([sys.executable, "-m", "pipeline", *args], cwd=tmp_path, env=base,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture
def token_echo_server() -> Iterator[str]:
    """A Socrata stand-in that refuses every request and echoes the app token back in its error."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            body = json.dumps({"code": "permission_denied", "error": True,
                               "message": f"Invalid app_token specified: {self.headers.get('X-App-Token')}"}).encode()
            self.send_response(403)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        thread.join()


@pytest.mark.parametrize("host", ["127.0.0.1:{port}", "no-such-host.invalid:5432"])
@pytest.mark.parametrize("verbose", [False, True])
def test_a_bad_postgresql_host_fails_without_showing_the_password(tmp_path: Path, host: str, verbose: bool) -> None:
    url = f"postgresql://loader:{PASSWORD}@{host.format(port=closed_port())}/test?connect_timeout=3"
    args = (["-v"] if verbose else []) + ["backfill", "--source", "sample"]
    run = run_cli(tmp_path, {"PIPELINE_WAREHOUSE": url, "SOCRATA_APP_TOKEN": TOKEN}, *args)
    assert run.returncode == cli.EXIT_FAILED
    assert "loader:***@" in run.stderr  # the URL is still there to debug with, minus the password
    assert_clean(run.stdout, run.stderr)


def test_a_percent_encoded_password_is_hidden_in_both_forms(tmp_path: Path) -> None:
    url = f"postgresql://loader:{ENCODED_PASSWORD}@127.0.0.1:{closed_port()}/test"
    run = run_cli(tmp_path, {"PIPELINE_WAREHOUSE": url, "PIPELINE_LOG_LEVEL": "DEBUG"}, "status")
    assert run.returncode != 0
    assert_clean(run.stdout, run.stderr)


def test_a_bad_redshift_host_fails_without_showing_the_password(tmp_path: Path) -> None:
    url = f"redshift://loader:{PASSWORD}@127.0.0.1:{closed_port()}/dev?timeout=3"
    run = run_cli(tmp_path, {"PIPELINE_WAREHOUSE": url, "REDSHIFT_IAM_ROLE": "arn:aws:iam::123456789012:role/x",
                             "REDSHIFT_S3_STAGING": "s3://bucket/stage"}, "-v", "backfill", "--source", "sample")
    assert run.returncode == cli.EXIT_FAILED
    assert_clean(run.stdout, run.stderr)


def test_in_process_logs_and_stderr_stay_clean(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("PIPELINE_WAREHOUSE", f"postgresql://loader:{PASSWORD}@127.0.0.1:{closed_port()}/test")
    monkeypatch.setenv("PIPELINE_LAKE", str(tmp_path / "lake"))
    monkeypatch.setenv("SOCRATA_APP_TOKEN", TOKEN)
    caplog.set_level(logging.DEBUG)
    assert cli.main(["-v", "backfill", "--source", "sample"]) == cli.EXIT_FAILED
    captured = capsys.readouterr()
    records = "\n".join(
        r.getMessage() + ("\n" + "".join(traceback.format_exception(*r.exc_info)) if r.exc_info else "")
        for r in caplog.records
    )
    assert "failed" in records
    assert_clean(records, caplog.text, captured.out, captured.err)


def test_warehouse_errors_and_their_tracebacks_carry_no_password() -> None:
    settings = Settings(warehouse_url=f"postgresql://loader:{ENCODED_PASSWORD}@127.0.0.1:{closed_port()}/test")
    warehouse = open_warehouse(settings)
    with pytest.raises(WarehouseError) as info:
        warehouse.query("select 1")
    assert_clean(str(info.value), repr(info.value), repr(warehouse), settings.redacted_warehouse,
                 "".join(traceback.format_exception(info.value)))
    with pytest.raises(WarehouseError) as info:
        with warehouse.session():
            pass
    assert_clean("".join(traceback.format_exception(info.value)))


def test_the_socrata_token_is_never_logged_even_when_the_server_echoes_it(
    tmp_path: Path, token_echo_server: str
) -> None:
    env = {
        "PIPELINE_WAREHOUSE": f"duckdb:///{tmp_path / 'wh.duckdb'}",
        "SOCRATA_DOMAIN": token_echo_server, "SOCRATA_APP_TOKEN": TOKEN,
        "SOCRATA_MAX_RETRIES": "1", "SOCRATA_TIMEOUT": "5", "PIPELINE_LOG_LEVEL": "DEBUG",
    }
    run = run_cli(tmp_path, env, "-v", "run", "--source", "socrata")
    assert run.returncode == cli.EXIT_FAILED, run.stderr[-2000:]
    assert "403" in run.stderr or "permission" in run.stderr.lower()
    assert_clean(run.stdout, run.stderr)


def test_settings_never_print_their_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings({"PIPELINE_WAREHOUSE": f"postgresql://u:{PASSWORD}@h/db", "SOCRATA_APP_TOKEN": TOKEN})
    assert PASSWORD not in settings.redacted_warehouse
    # dataclass repr would show everything: nothing in the code logs a Settings object
    sources = "\n".join(p.read_text() for p in (PROJECT_ROOT / "pipeline").rglob("*.py"))
    for pattern in ("log.info(settings)", "log.debug(settings)", "%r\", settings", "print(settings)"):
        assert pattern not in sources


AT_PASSWORD = "Xq7@Pw9z@Kv3"  # unencoded '@' twice: each part is distinctive


def test_an_unencoded_at_in_a_password_leaves_no_part_of_it_in_logs_or_alerts(tmp_path: Path) -> None:
    from tests.test_alerts import Webhook

    hook = Webhook()
    hook.thread.start()
    try:
        url = f"postgresql://loader:{AT_PASSWORD}@127.0.0.1:{closed_port()}/test?connect_timeout=3"
        run = run_cli(tmp_path, {"PIPELINE_WAREHOUSE": url, "PIPELINE_ALERT_WEBHOOK": hook.url,
                                 "PIPELINE_LOG_LEVEL": "DEBUG"}, "-v", "backfill", "--source", "sample")
    finally:
        hook.server.shutdown()
        hook.thread.join()
    assert run.returncode == cli.EXIT_FAILED
    alerts = json.dumps(hook.posts)
    assert hook.posts and "loader:***@127.0.0.1" in run.stderr
    for part in AT_PASSWORD.split("@"):
        for text in (run.stdout, run.stderr, alerts):
            assert part not in text, text[max(0, text.find(part) - 80):text.find(part) + 40]


@pytest.mark.parametrize("text, expected", [
    ("postgresql://u:p@ss@host/db", "postgresql://u:***@host/db"),
    ("could not reach 'postgresql://u:a@b@c@db.internal:5432/x' (timeout)",
     "could not reach 'postgresql://u:***@db.internal:5432/x' (timeout)"),
    ("postgresql://u:pw@h/db and mail admin@example.org", "postgresql://u:***@h/db and mail admin@example.org"),
])
def test_redaction_runs_to_the_last_at_before_the_host(text: str, expected: str) -> None:
    from pipeline.config import redact_url

    assert redact_url(text) == expected


def test_a_password_with_an_unencoded_at_reaches_the_right_host(pg_admin) -> None:  # noqa: ANN001 - skips without a server
    """libpq splits user:password@host at the FIRST '@' (and then names 'Pw9z@Kv3@127.0.0.1' as the host
    it could not resolve: the password's tail in an error); the URL is re-encoded so it reaches the host."""
    from urllib.parse import urlsplit

    from tests.pg_fixtures import PG_URL

    parts = urlsplit(PG_URL)
    url = f"postgresql://{parts.username}:{AT_PASSWORD}@{parts.hostname}:{parts.port or 5432}{parts.path}"
    warehouse = open_warehouse(Settings(warehouse_url=url))
    try:
        assert int(warehouse.query("select 1 as one").iloc[0, 0]) == 1  # trust auth: the password is not checked
    finally:
        getattr(warehouse, "close", lambda: None)()
