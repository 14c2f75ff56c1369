"""Every environment variable pipeline/config.py reads is documented where a maintainer looks:
`python -m pipeline --help` (with its default), the README's table and the deploy env example; and
every `python -m pipeline ...` command in the README and docs/DEPLOY.md is one the CLI accepts."""

from __future__ import annotations

import ast
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.cli import build_parser
from pipeline.config import PROJECT_ROOT, load_settings

CONFIG = PROJECT_ROOT / "pipeline" / "config.py"
ENV_EXAMPLE = PROJECT_ROOT / "deploy" / "moco-traffic-stops.env.example"
ENV_NAME = re.compile(r"[A-Z][A-Z0-9_]{2,}")


def env_reads() -> dict[str, str | None]:
    """{variable: default} for every environment variable config.py reads, found in its syntax tree:
    ``_get(env, "NAME"[, default])``, ``env.get("NAME")``, ``os.environ[...]``, ``os.getenv(...)``."""
    tree = ast.parse(CONFIG.read_text())
    constants = {node.targets[0].id: node.value.value for node in tree.body
                 if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
                 and isinstance(node.value, ast.Constant)}
    found: dict[str, str | None] = {}
    for node in ast.walk(tree):
        args: list[ast.expr] = []
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in ("_get", "get", "getenv"):
                args = node.args[1:] if name == "_get" else node.args
        elif isinstance(node, ast.Subscript):
            args = [node.slice]
        if args and isinstance(args[0], ast.Constant) and isinstance(args[0].value, str) \
                and ENV_NAME.fullmatch(args[0].value):
            default = args[1] if len(args) > 1 else None
            if isinstance(default, ast.Name):
                found[args[0].value] = constants[default.id]
            else:
                found[args[0].value] = default.value if isinstance(default, ast.Constant) else None
    # PIPELINE_TEST_PAUSE_AT / _FILE: a pause point for the crash tests only, deliberately undocumented.
    return {name: default for name, default in found.items() if not name.startswith("PIPELINE_TEST_")}


def help_text() -> str:
    return subprocess.run([sys.executable, "-m", "pipeline", "--help"], cwd=PROJECT_ROOT, capture_output=True,
                          text=True, check=True).stdout


def test_the_scan_finds_what_config_reads() -> None:
    reads = env_reads()
    assert reads["PIPELINE_MEMORY_LIMIT"] == "1500MB" and reads["PIPELINE_WAREHOUSE"] == "duckdb:///data/warehouse.duckdb"
    assert reads["SOCRATA_APP_TOKEN"] is None
    # ...and the same set load_settings really consumes: each one changes the Settings it builds.
    baseline = load_settings({})
    samples = {"PIPELINE_MEMORY_LIMIT": "2GB", "PIPELINE_WAREHOUSE": "postgresql://u@h/db", "PIPELINE_LAKE": "s3://b/p",
               "SOCRATA_PAGE_SIZE": "7", "SOCRATA_TIMEOUT": "7", "SOCRATA_MAX_RETRIES": "7",
               "SOCRATA_LOOKBACK_HOURS": "7", "PIPELINE_STALE_AFTER_DAYS": "7", "PIPELINE_SMALL_COUNT": "7",
               "PIPELINE_LOCK_WAIT_SECONDS": "7", "PIPELINE_STATEMENT_TIMEOUT_SECONDS": "7",
               "PIPELINE_MAX_QUARANTINE_SHARE": "0.5", "PIPELINE_DASHBOARD_REPLICA_MB": "7"}
    for name in reads:
        assert load_settings({name: samples.get(name, "x.example.org")}) != baseline, name


def test_help_lists_every_environment_variable_with_its_default() -> None:
    lines = {m.group(1): line for line in help_text().splitlines() if (m := re.match(r"  ([A-Z][A-Z0-9_]+)\s", line))}
    for name, default in env_reads().items():
        assert name in lines, f"--help does not list {name}"
        expected = f"default {default}" if default is not None else "no default"
        assert expected in lines[name], f"--help line of {name} lacks {expected!r}: {lines[name]!r}"


def test_the_readme_table_and_the_env_example_list_every_variable() -> None:
    readme = (PROJECT_ROOT / "README.md").read_text()
    example = ENV_EXAMPLE.read_text()
    for name, default in env_reads().items():
        row = next((line for line in readme.splitlines() if line.startswith("|") and f"`{name}`" in line), None)
        assert row is not None, f"README's configuration table lacks {name}"
        if default is not None:
            assert default in row or f"/ {default}" in row or f"{default} /" in row, (name, row)
        if not name.startswith(("SOCRATA_PAGE", "SOCRATA_TIMEOUT", "SOCRATA_MAX")):
            assert name in example, f"the deploy env example lacks {name}"


def test_the_env_example_sources_in_a_shell_and_loads() -> None:
    script = f"set -a; . {shlex.quote(str(ENV_EXAMPLE))}; set +a; env"
    env = dict(line.split("=", 1) for line in subprocess.run(
        ["bash", "-c", script], env={"PATH": "/usr/bin:/bin"}, capture_output=True, text=True, check=True,
    ).stdout.splitlines() if "=" in line)
    settings = load_settings(env)
    assert settings.warehouse_kind == "duckdb" and settings.memory_limit == "1500MB"
    assert str(settings.duckdb_path) == "/var/lib/moco-traffic-stops/warehouse.duckdb"


def documented_commands() -> list[tuple[str, list[str]]]:
    found = []
    for doc in (PROJECT_ROOT / "README.md", PROJECT_ROOT / "docs" / "DEPLOY.md"):
        for match in re.finditer(r"(?:python|\$py) -m pipeline((?: [^\s`|#'&\[\]]+| \[[^\]]*\])*)", doc.read_text()):
            words = [w for w in shlex.split(match.group(1).replace("[", "").replace("]", "")) if w != "..."]
            found.append((f"{doc.name}: python -m pipeline{match.group(1)}", words))
    return found


def test_every_documented_pipeline_command_is_accepted_by_the_cli() -> None:
    commands = documented_commands()
    assert len(commands) >= 24
    for where, words in commands:
        # optional parts written as [--x [--y]] are checked with all of them given
        args = words if words else ["run"]
        try:
            build_parser().parse_args(args)
        except SystemExit as exc:
            if exc.code:
                pytest.fail(f"{where}: rejected by the CLI ({args})")


def test_the_spill_folder_is_where_the_docs_say(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """README, --help, DEPLOY.md and the deploy files say: <lake>/_tmp for a local lake, the system
    temp dir ($TMPDIR, which the Airflow DAG sets per task) for an S3 lake."""
    import tempfile

    from pipeline.config import Settings
    from pipeline.load import spill_dir

    assert spill_dir(Settings(lake_url="/srv/lake")) == Path("/srv/lake/_tmp")
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", None)  # gettempdir() caches its first answer
    assert spill_dir(Settings(lake_url="s3://bucket/lake")).parent == tmp_path
    assert "<lake>/_tmp" in help_text()
