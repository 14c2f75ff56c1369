"""A failing scheduled run tells a maintainer: the webhook gets a message, with no secret in it."""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Iterator

import pytest

from pipeline import cli
from pipeline.alerts import alert_on_failure, failure_text
from pipeline.config import PROJECT_ROOT, Settings
from tests.ports import closed_port

PASSWORD = "Al3rt-pw-Secret"
TOKEN = "Al3rt-token-Secret"



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


def run_cli(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("PIPELINE_", "SOCRATA_", "REDSHIFT_"))}
    base.update(PIPELINE_LAKE=str(tmp_path / "lake"), PYTHONPATH=str(PROJECT_ROOT), **env)
    return subprocess.run([sys.executable, "-m", "pipeline", *args], cwd=tmp_path, env=base,
                          capture_output=True, text=True, timeout=300)


def test_a_failing_run_posts_to_the_webhook_without_secrets(tmp_path: Path, webhook: Webhook) -> None:
    env = {
        "PIPELINE_WAREHOUSE": f"postgresql://loader:{PASSWORD}@127.0.0.1:{closed_port()}/test",
        "PIPELINE_ALERT_WEBHOOK": webhook.url,
        "SOCRATA_APP_TOKEN": TOKEN,
    }
    run = run_cli(tmp_path, env, "backfill", "--source", "sample")
    assert run.returncode == cli.EXIT_FAILED
    assert len(webhook.posts) == 1
    text = webhook.posts[0]["text"]
    assert "`backfill` failed" in text and "WarehouseError" in text
    assert "previous data is still being served" in text
    assert "loader:***@127.0.0.1" in text  # where it failed, minus the password
    body = json.dumps(webhook.posts[0]) + json.dumps(webhook.headers[0])
    assert PASSWORD not in body and TOKEN not in body


def test_a_successful_run_sends_nothing(tmp_path: Path, webhook: Webhook) -> None:
    env = {"PIPELINE_WAREHOUSE": f"duckdb:///{tmp_path / 'wh.duckdb'}", "PIPELINE_ALERT_WEBHOOK": webhook.url}
    run = run_cli(tmp_path, env, "backfill", "--source", "sample")
    assert run.returncode == cli.EXIT_OK, run.stderr[-2000:]
    assert webhook.posts == []


def test_an_unreachable_webhook_does_not_change_the_exit_code(tmp_path: Path) -> None:
    env = {
        "PIPELINE_WAREHOUSE": f"postgresql://loader:{PASSWORD}@127.0.0.1:{closed_port()}/test",
        "PIPELINE_ALERT_WEBHOOK": f"http://127.0.0.1:{closed_port()}/hook?secret=hook-key",
    }
    run = run_cli(tmp_path, env, "backfill", "--source", "sample")
    assert run.returncode == cli.EXIT_FAILED
    assert "alert webhook failed" in run.stderr
    assert "hook-key" not in run.stderr and PASSWORD not in run.stderr  # a Slack hook URL is a secret too


def test_the_alert_text_redacts_urls_inside_the_error(webhook: Webhook) -> None:
    settings = Settings(alert_webhook_url=webhook.url)
    exc = RuntimeError(f"could not open postgresql://loader:{PASSWORD}@db.internal:5432/traffic")
    assert alert_on_failure(settings, "run", exc) == ["webhook"]
    assert PASSWORD not in webhook.posts[0]["text"]
    assert webhook.posts[0]["text"] == failure_text("run", exc)
