"""The curated zone damaged outside the pipeline, failed runs' leftovers, and lake paths with a quote.

Each fault: the exit code, the warehouse rows against a clean run's (the session's sample load),
the run-log row, and what ``status --verify`` and ``repair`` say; then the next load, which must
end in the clean run's state.
"""

from __future__ import annotations

import errno
import gzip
import json
import shutil
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from pipeline import cli
from pipeline.config import SAMPLE_DIR, Settings
from pipeline.curated import CURATED_TABLE, CuratedTable, StagedFile
from pipeline.extract.files import SampleSource
from pipeline.lake import LocalLake
from pipeline.load import run_load
from pipeline.reference import ensure_reference
from pipeline.warehouse import open_warehouse
from tests.pg_fixtures import table_frame
from tests.test_alerts import Webhook, webhook  # noqa: F401 - the fixture

pytest_plugins = ["tests.pg_fixtures"]

SAMPLE_CHARGES = 18_393  # the bundled sample, as every backend loads it
LOG = f"{CURATED_TABLE}/_delta_log"


def use(monkeypatch: pytest.MonkeyPatch, settings: Settings, **more: str) -> None:
    """The environment cli.main reads for ``settings`` (and nothing else of the caller's)."""
    for name in ("PIPELINE_ALERT_WEBHOOK", "PIPELINE_ALERT_SMTP", "PIPELINE_ALERT_EMAIL_TO"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PIPELINE_WAREHOUSE", settings.warehouse_url)
    monkeypatch.setenv("PIPELINE_LAKE", settings.lake_url)
    for name, value in more.items():
        monkeypatch.setenv(name, value)


def charges(settings: Settings) -> pd.DataFrame:
    return table_frame(open_warehouse(settings), "moco_traffic_violations")


def last_run(settings: Settings) -> dict:
    runs = open_warehouse(settings).query("select * from pipeline_runs order by started_at desc limit 1")
    return runs.iloc[0].to_dict()


def run_zone_objects(settings: Settings) -> list[str]:
    lake = LocalLake(settings.lake_path)
    return [k for zone in ("landing", "quarantine") for k in lake.list(zone)]


def a_file(settings: Settings, year: int = 2016, month: int = 3) -> tuple[str, Path]:
    f = next(f for f in CuratedTable(LocalLake(settings.lake_path)).files() if (f.year, f.month) == (year, month))
    return f.key, settings.lake_path / f.key


@pytest.fixture(scope="module")
def clean(sample_warehouse: Settings) -> pd.DataFrame:
    """The warehouse rows of a clean load of the sample."""
    frame = charges(sample_warehouse)
    assert len(frame) == SAMPLE_CHARGES
    return frame


def assert_heals(settings: Settings, clean: pd.DataFrame, monkeypatch: pytest.MonkeyPatch,
                 capsys: pytest.CaptureFixture[str]) -> str:
    """status --verify says damaged (exit 1), repair rebuilds (exit 0, a run-log row), verify is then
    clean, and the next load exits 0 with the clean run's rows. Returns what repair printed."""
    capsys.readouterr()
    assert cli.main(["status", "--verify"]) == cli.EXIT_FAILED
    assert "pipeline repair" in capsys.readouterr().out
    assert cli.main(["repair"]) == cli.EXIT_OK
    said = capsys.readouterr().out
    assert "rebuilt from the warehouse" in said and f"{SAMPLE_CHARGES:,} rows = warehouse" in said
    run = last_run(settings)
    assert (run["command"], run["status"], int(run["warehouse_rows"])) == ("repair", "repaired", SAMPLE_CHARGES)
    assert cli.main(["status", "--verify"]) == cli.EXIT_OK
    assert "every file present with its recorded size" in capsys.readouterr().out
    assert cli.main(["backfill", "--source", "sample", "--skip-analyze"]) == cli.EXIT_OK
    pd.testing.assert_frame_equal(charges(settings), clean)
    table = CuratedTable(LocalLake(settings.lake_path))
    assert table.row_count() == SAMPLE_CHARGES and table.check_files() == []
    assert last_run(settings)["status"] == "success"
    return said


@pytest.mark.parametrize("damage", ["deleted", "cut short"])
def test_a_damaged_curated_file_stops_the_load_with_exit_1_an_alert_and_the_way_back(
    sample_warehouse_copy: Settings, clean: pd.DataFrame, damage: str, webhook: Webhook,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    settings = sample_warehouse_copy
    use(monkeypatch, settings, PIPELINE_ALERT_WEBHOOK=webhook.url)
    key, path = a_file(settings)
    if damage == "deleted":
        path.unlink()
    else:
        path.write_bytes(path.read_bytes()[:1000])
    before = run_zone_objects(settings)
    # Once exit 2 ("usage error") through the FileNotFoundError branch, which sends no alert.
    assert cli.main(["backfill", "--source", "sample", "--skip-analyze"]) == cli.EXIT_FAILED
    pd.testing.assert_frame_equal(charges(settings), clean)  # nothing published
    run = last_run(settings)
    assert run["status"] == "failed" and key in run["message"] and "pipeline repair" in run["message"]
    assert ("missing" if damage == "deleted" else "1,000 bytes") in run["message"]
    assert len(webhook.posts) == 1 and key in webhook.posts[0]["text"]
    assert run_zone_objects(settings) == before  # the failed run removed its own landing/quarantine
    assert_heals(settings, clean, monkeypatch, capsys)


def new_rows_export(tmp_path: Path, n: int = 3) -> Path:
    """``n`` real rows of the 2016 sample made new (another description): a small daily batch that adds
    a file to its month and keeps the month's other files."""
    import csv
    import io

    with gzip.open(SAMPLE_DIR / "mcpd_tv_sample_nikolausn_2016.csv.gz", "rt", newline="") as src:
        rows = list(csv.reader(io.StringIO("".join(next(src) for _ in range(n + 1)))))
    column = rows[0].index("Description")
    for i, row in enumerate(rows[1:]):
        row[column] = f"TEST ROW {i}"
    out = tmp_path / "new-rows.csv"
    with open(out, "w", newline="") as fh:
        csv.writer(fh).writerows(rows)
    return out


def test_a_file_lost_between_the_lake_commit_and_the_warehouse_commit_publishes_nothing(
    sample_warehouse_copy: Settings, clean: pd.DataFrame, webhook: Webhook, tmp_path: Path,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    """The check beside "curated zone = warehouse": the files of the months the load wrote, after its
    commit, including those it kept (which staging never reads)."""
    settings = sample_warehouse_copy
    use(monkeypatch, settings, PIPELINE_ALERT_WEBHOOK=webhook.url)
    commit = CuratedTable.commit_files
    lost = []

    def commit_then_lose_a_kept_file(self, added, removed, schema, run_id):  # noqa: ANN001, ANN202
        version = commit(self, added, removed, schema, run_id)
        months, new = {(f.year, f.month) for f in added}, {f.key() for f in added}
        lost.append(next(f.key for f in self.files() if (f.year, f.month) in months and f.key not in new))
        Path(self.lake.uri(lost[0])).unlink()
        return version

    with monkeypatch.context() as m:
        m.setattr(CuratedTable, "commit_files", commit_then_lose_a_kept_file)
        assert cli.main(["run", "--file", str(new_rows_export(tmp_path)), "--skip-analyze"]) == cli.EXIT_FAILED
    pd.testing.assert_frame_equal(charges(settings), clean)
    run = last_run(settings)
    assert run["status"] == "failed" and "changed outside the pipeline" in run["message"] and lost[0] in run["message"]
    assert len(webhook.posts) == 1
    # The lost file belongs to the warehouse's version too: the next load names it again, and
    # repair is the way back.
    assert cli.main(["backfill", "--source", "sample", "--skip-analyze"]) == cli.EXIT_FAILED
    assert lost[0] in last_run(settings)["message"]
    assert_heals(settings, clean, monkeypatch, capsys)


def _drop_checkpoints(lake: Path) -> None:
    """Leave only the JSON commit files, as between two checkpoints (a checkpoint would mask the damage)."""
    for p in (lake / LOG).iterdir():
        if p.name.endswith(".checkpoint.parquet") or p.name == "_last_checkpoint":
            p.unlink()


@pytest.mark.parametrize("damage", ["entry truncated", "last entry deleted"])
def test_a_broken_delta_log_is_named_and_repair_is_the_documented_way_back(
    sample_warehouse_copy: Settings, clean: pd.DataFrame, damage: str, webhook: Webhook,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    settings = sample_warehouse_copy
    use(monkeypatch, settings, PIPELINE_ALERT_WEBHOOK=webhook.url)
    log = settings.lake_path / LOG
    if damage == "last entry deleted":
        # A second version to lose: a load of the same sample (replaces every row, changes none).
        assert cli.main(["backfill", "--source", "sample", "--skip-analyze"]) == cli.EXIT_OK
        _drop_checkpoints(settings.lake_path)
        sorted(log.glob("*.json"))[-1].unlink()
        expected = "is behind the warehouse"
    else:
        _drop_checkpoints(settings.lake_path)
        entry = sorted(log.glob("*.json"))[-1]
        entry.write_bytes(entry.read_bytes()[:100])
        expected = "Delta log at"
    before = run_zone_objects(settings)
    assert cli.main(["backfill", "--source", "sample", "--skip-analyze"]) == cli.EXIT_FAILED
    pd.testing.assert_frame_equal(charges(settings), clean)
    run = last_run(settings)
    assert run["status"] == "failed" and expected in run["message"] and "pipeline repair" in run["message"]
    assert len(webhook.posts) == 1
    assert run_zone_objects(settings) == before
    said = assert_heals(settings, clean, monkeypatch, capsys)
    assert "damaged log moved to curated/repair-" in said
    backup = [k for k in LocalLake(settings.lake_path).list("curated") if k.startswith("curated/repair-")]
    assert backup and all("/_delta_log/" in k for k in backup)  # the broken log, kept for a post-mortem


def test_repair_on_an_intact_zone_changes_nothing(
    sample_warehouse_copy: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    use(monkeypatch, sample_warehouse_copy)
    lake = LocalLake(sample_warehouse_copy.lake_path)
    keys = lake.list(CURATED_TABLE)
    assert cli.main(["repair", "--json"]) == cli.EXIT_OK
    outcome = json.loads(capsys.readouterr().out)
    assert outcome["rebuilt"] is False and outcome["problems"] == [] and "nothing done" in outcome["text"]
    assert lake.list(CURATED_TABLE) == keys
    run = last_run(sample_warehouse_copy)
    assert (run["command"], run["status"]) == ("repair", "verified")  # not a load: freshness unchanged
    assert cli.main(["status", "--json"]) == cli.EXIT_OK
    report = json.loads(capsys.readouterr().out)
    assert [r["command"] for r in report["runs"]][:2] == ["repair", "backfill"]
    assert report["counts"]["last_success_at"] == str(report["runs"][1]["finished_at"])


def test_repaired_files_have_the_curated_schema_a_load_writes(
    sample_warehouse_copy: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    use(monkeypatch, sample_warehouse_copy)
    key, path = a_file(sample_warehouse_copy)
    written = pq.read_schema(path)
    path.unlink()
    assert cli.main(["repair"]) == cli.EXIT_OK
    _, rebuilt = a_file(sample_warehouse_copy)
    assert rebuilt != path
    assert pq.read_schema(rebuilt).equals(written, check_metadata=False)


def test_repair_from_postgresql_then_a_load_equals_a_clean_run(
    pg_settings: Settings, clean: pd.DataFrame, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The rows come back through psycopg's types (dates, times, numerics), not DuckDB's."""
    warehouse = open_warehouse(pg_settings)
    ensure_reference(pg_settings, warehouse)
    run_load(pg_settings, SampleSource(), "backfill", warehouse=warehouse)
    use(monkeypatch, pg_settings)
    a_file(pg_settings)[1].unlink()
    assert cli.main(["backfill", "--source", "sample", "--skip-analyze"]) == cli.EXIT_FAILED
    pd.testing.assert_frame_equal(charges(pg_settings), clean, check_dtype=False)
    capsys.readouterr()
    assert cli.main(["repair"]) == cli.EXIT_OK
    assert cli.main(["status", "--verify"]) == cli.EXIT_OK
    assert cli.main(["backfill", "--source", "sample", "--skip-analyze"]) == cli.EXIT_OK
    pd.testing.assert_frame_equal(charges(pg_settings), clean, check_dtype=False)


def quarantine_heavy_export(tmp_path: Path) -> Path:
    """60 real rows of the 2017 sample, 20 of them without a violation type (quarantined: 33% > 10%)."""
    with gzip.open(SAMPLE_DIR / "mcpd_tv_sample_tolu238_2017.csv.gz", "rt", newline="") as src:
        lines = [next(src) for _ in range(61)]
    import csv
    import io

    rows = list(csv.reader(io.StringIO("".join(lines))))
    column = rows[0].index("Violation Type")
    for row in rows[1:21]:
        row[column] = ""
    out = tmp_path / "export.csv"
    with open(out, "w", newline="") as fh:
        csv.writer(fh).writerows(rows)
    return out


def test_a_failed_run_leaves_no_landing_quarantine_or_temp_file(
    sample_warehouse_copy: Settings, clean: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Exit 3 after the quarantine object was written (the share gate runs after it): the run removes
    its landing and quarantine objects (issue 23's pin: the quarantine zone too), its work folder and
    temp files; the raw object stays."""
    settings = sample_warehouse_copy
    use(monkeypatch, settings)
    lake = LocalLake(settings.lake_path)
    before = run_zone_objects(settings)
    raw_before = set(lake.list("raw"))
    assert cli.main(["backfill", "--file", str(quarantine_heavy_export(tmp_path)), "--skip-analyze"]) == cli.EXIT_QUALITY
    run = last_run(settings)
    assert run["status"] == "failed" and "quarantine" in run["message"] and int(run["rows_quarantined"]) == 20
    assert run_zone_objects(settings) == before
    assert not [k for k in lake.list("quarantine") if run["run_id"] in k]
    assert len(set(lake.list("raw")) - raw_before) == 1  # the archive of what was read stays
    assert not list((settings.lake_path / "_tmp").glob("batch-*"))
    assert not [p for p in settings.lake_path.rglob(".tmp-*")]
    pd.testing.assert_frame_equal(charges(settings), clean)


def test_put_file_removes_its_temp_file_when_the_disk_is_full(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pipeline.lake

    src = tmp_path / "src.parquet"
    src.write_bytes(b"x" * 10_000)

    def full_disk(a: Path, b: Path) -> None:
        Path(b).write_bytes(b"x" * 100)  # part of the copy made it
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pipeline.lake.shutil, "copyfile", full_disk)
    lake = LocalLake(tmp_path / "lake")
    with pytest.raises(OSError, match="No space"):
        lake.put_file("landing/load_id=x/charges.parquet", src)
    assert [p.name for p in (tmp_path / "lake").rglob("*") if p.is_file()] == []


def test_a_failed_curated_commit_removes_the_files_it_placed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import deltalake.transaction
    import pyarrow as pa

    lake = LocalLake(tmp_path / "lake")
    table = CuratedTable(lake)
    work = tmp_path / "work" / "year=2016" / "month=3"
    work.mkdir(parents=True)
    pq.write_table(pa.table({"row_id": ["a"]}), work / "part-0.parquet")
    staged = StagedFile("year=2016/month=3/part-0.parquet", work / "part-0.parquet", 2016, 3, 1)

    def refused(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(deltalake.transaction, "create_table_with_add_actions", refused)
    schema = pa.schema([("row_id", pa.string()), ("year", pa.int64()), ("month", pa.int64())])
    with pytest.raises(OSError):
        table.commit_files([staged], [], schema, "run-1")
    assert lake.list(CURATED_TABLE) == []


@pytest.mark.parametrize("backend", ["duckdb", "postgresql"])
def test_a_lake_path_with_a_quote_loads_like_any_other(
    backend: str, tmp_path: Path, clean: pd.DataFrame, request: pytest.FixtureRequest
) -> None:
    root = tmp_path / "o'brien's lake"
    if backend == "duckdb":
        settings = Settings(warehouse_url=f"duckdb:///{tmp_path / 'wh.duckdb'}", lake_url=str(root))
    else:
        settings = request.getfixturevalue("pg_settings").with_overrides(lake_url=str(root))
    warehouse = open_warehouse(settings)
    ensure_reference(settings, warehouse)
    result = run_load(settings, SampleSource(), "backfill", warehouse=warehouse)
    assert result.status == "success" and result.warehouse_rows == SAMPLE_CHARGES
    pd.testing.assert_frame_equal(charges(settings), clean, check_dtype=False)
    assert CuratedTable(LocalLake(root)).row_count() == SAMPLE_CHARGES
    shutil.rmtree(root)
