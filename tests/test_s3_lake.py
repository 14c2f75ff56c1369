"""The lake on S3 (a moto server on 127.0.0.1): same zones, same counts, idempotent reruns."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.config import PROJECT_ROOT, SAMPLE_DIR, Settings
from pipeline.extract.files import SampleSource
from pipeline.lake import S3Lake, open_lake
from pipeline.load import run_load
from pipeline.reference import ensure_reference
from pipeline.warehouse import open_warehouse
from pipeline.curated import CuratedTable

pytest_plugins = ["tests.s3_fixtures", "tests.pg_fixtures"]


def list_keys(client, bucket: str, prefix: str = "") -> list[str]:  # noqa: ANN001
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return sorted(obj["Key"] for page in pages for obj in page.get("Contents", []))


def s3_settings(lake_url: str, tmp_path: Path, warehouse_url: str | None = None) -> Settings:
    return Settings(warehouse_url=warehouse_url or f"duckdb:///{tmp_path / 'warehouse.duckdb'}", lake_url=lake_url)


def zone_keys(client, bucket: str) -> dict[str, list[str]]:  # noqa: ANN001
    keys = list_keys(client, bucket, "lake/")
    zones: dict[str, list[str]] = {}
    for key in keys:
        zones.setdefault(key.split("/")[1], []).append(key)
    return zones


def test_the_whole_pipeline_runs_on_an_s3_lake(s3_client, s3_bucket: str, s3_lake_url: str, tmp_path: Path) -> None:  # noqa: ANN001
    settings = s3_settings(s3_lake_url, tmp_path)
    lake = open_lake(settings)
    assert isinstance(lake, S3Lake)
    warehouse = open_warehouse(settings)
    ensure_reference(settings, warehouse)

    t0 = time.perf_counter()
    first = run_load(settings, SampleSource(), "backfill", warehouse=warehouse)
    seconds = time.perf_counter() - t0
    zones = zone_keys(s3_client, s3_bucket)
    print(f"\nS3 lake (moto) full load: {seconds:.2f} s; objects per zone: "
          f"{ {z: len(k) for z, k in sorted(zones.items())} }; {first.summary()}")

    # raw: each bundled file byte for byte, as received
    samples = sorted(SAMPLE_DIR.glob("*.csv*"))
    assert len(zones["raw"]) == len(samples)
    for path in samples:
        key = next(k for k in zones["raw"] if k.endswith(path.name))
        body = s3_client.get_object(Bucket=s3_bucket, Key=key)["Body"].read()
        assert hashlib.sha256(body).hexdigest() == hashlib.sha256(path.read_bytes()).hexdigest()
        assert f"load_date={first.run_id[:4]}-" in key and "raw/source=sample/" in key
    # landing: one object per stop year of this load; quarantine: one; counts reconcile with raw records
    landing = [k for k in zones["landing"] if f"load_id={first.run_id}/" in k]
    quarantine = [k for k in zones["quarantine"] if f"load_id={first.run_id}/" in k]
    years = sorted(int(k.rsplit("_", 1)[1].split(".")[0]) for k in landing)
    assert years == [2012, 2013, 2014, 2015, 2016, 2019]  # the bundled sample's stop years
    assert len(quarantine) == 1
    landed = sum(pq.read_table(io.BytesIO(s3_client.get_object(Bucket=s3_bucket, Key=k)["Body"].read())).num_rows
                 for k in landing)
    rejected = pq.read_table(io.BytesIO(s3_client.get_object(Bucket=s3_bucket, Key=quarantine[0])["Body"].read())).num_rows
    assert (landed, rejected) == (first.rows_landed, first.rows_quarantined)
    assert first.rows_raw == landed + rejected
    # curated: a Delta table on S3 (log + year/month files); its rows = the warehouse's rows
    curated = zones["curated"]
    assert any(k.startswith("lake/curated/charges/_delta_log/") for k in curated)
    assert any(k.startswith("lake/curated/charges/year=") and k.endswith(".parquet") for k in curated)
    table = CuratedTable(lake)
    assert table.row_count() == first.warehouse_rows == first.rows_landed
    assert int(warehouse.query(
        "select state_value from pipeline_state where state_key = 'curated_lake_version'").iloc[0, 0]) == table.version()
    stops = warehouse.query("select count(*) as n from moco_traffic_violations").iloc[0, 0]
    assert int(stops) == first.warehouse_rows
    # nothing was written to a local lake folder
    assert not (tmp_path / "lake").exists() and not (PROJECT_ROOT / "s3:").exists()

    # a rerun: same objects, same rows, nothing duplicated
    second = run_load(settings, SampleSource(), "backfill", warehouse=warehouse)
    zones2 = zone_keys(s3_client, s3_bucket)
    assert zones2["raw"] == zones["raw"]  # same files on the same day reuse their raw objects
    assert table.row_count() == second.warehouse_rows == first.warehouse_rows
    assert table.version() == first.lake_version + 1  # the rerun is one more commit, nothing else
    assert second.rows_replaced == second.rows_inserted == first.warehouse_rows
    # one set per load: landing is the audit trail of each run
    assert len(zones2["landing"]) == 2 * len(landing)
    assert {k.split("/")[2] for k in zones2["landing"]} == {f"load_id={first.run_id}", f"load_id={second.run_id}"}


def test_listing_treats_a_prefix_as_a_folder_like_the_local_lake(s3_client, s3_bucket: str, s3_env: str) -> None:  # noqa: ANN001
    lake = S3Lake(f"s3://{s3_bucket}/p/", client=s3_client)
    for key in ("curated/charges/a.parquet", "curated/charges_old/b.parquet", "raw/x.csv.gz"):
        lake.put_bytes(key, b"1")
    assert lake.list("curated/charges") == ["curated/charges/a.parquet"]
    assert lake.list("raw/x.csv.gz") == ["raw/x.csv.gz"]
    assert lake.list("") == ["curated/charges/a.parquet", "curated/charges_old/b.parquet", "raw/x.csv.gz"]
    assert lake.uri("raw/x.csv.gz") == f"s3://{s3_bucket}/p/raw/x.csv.gz"
    assert lake.exists("raw/x.csv.gz") and not lake.exists("raw/y.csv.gz")
    with lake.local_copy("raw/x.csv.gz") as path:
        assert path.read_bytes() == b"1" and path.name.endswith(".csv.gz")
    lake.delete("raw/x.csv.gz")
    assert lake.list("raw") == []


def test_s3_lake_with_a_postgresql_warehouse(s3_client, s3_bucket: str, s3_lake_url: str, pg_fresh_url: str,  # noqa: ANN001
                                            tmp_path: Path) -> None:
    """The production shape minus Redshift: objects in S3, tables in PostgreSQL."""
    settings = s3_settings(s3_lake_url, tmp_path, pg_fresh_url)
    warehouse = open_warehouse(settings)
    ensure_reference(settings, warehouse)
    result = run_load(settings, SampleSource(), "backfill", warehouse=warehouse)
    assert CuratedTable(open_lake(settings)).row_count() == result.warehouse_rows
    assert int(warehouse.query("select count(*) from stops").iloc[0, 0]) == result.warehouse_stops


def test_the_cli_switches_to_s3_by_configuration_alone(s3_client, s3_bucket: str, s3_env: str, tmp_path: Path) -> None:  # noqa: ANN001
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIPELINE_", "SOCRATA_"))}
    env.update(PIPELINE_LAKE=f"s3://{s3_bucket}/cli", PIPELINE_WAREHOUSE=f"duckdb:///{tmp_path / 'cli.duckdb'}",
               PYTHONPATH=str(PROJECT_ROOT))
    run = subprocess.run([sys.executable, "-m", "pipeline", "backfill", "--source", "sample"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "success" in run.stdout
    keys = list_keys(s3_client, s3_bucket, "cli/")
    assert any(k.startswith("cli/raw/") for k in keys) and any(k.startswith("cli/curated/charges/") for k in keys)
    status = subprocess.run([sys.executable, "-m", "pipeline", "status"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=120)
    assert status.returncode == 0, status.stderr[-3000:]
    assert not list(tmp_path.glob("**/*.parquet"))  # no zone was written locally
    with gzip.open(io.BytesIO(s3_client.get_object(Bucket=s3_bucket, Key=next(k for k in keys if "/raw/" in k))["Body"].read())) as fh:
        assert fh.readline()  # the raw object is the gzip the sample shipped as


def test_one_column_of_an_s3_parquet_object_is_read_without_the_rest(s3_client, s3_bucket: str, s3_env: str) -> None:  # noqa: ANN001
    lake = S3Lake(f"s3://{s3_bucket}/lake", client=s3_client)
    n = 50_000
    table = pa.table({
        "row_id": [f"row-{i:08d}" for i in range(n)],
        "payload": [f"{i:064x}" * 4 for i in range(n)],  # the bulk of the object
    })
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="none")
    lake.put_bytes("curated/charges/year=2020/month=01/part.parquet", sink.getvalue())

    handle = lake.open_input("curated/charges/year=2020/month=01/part.parquet")
    ids = pq.read_table(handle, columns=["row_id"])["row_id"].to_pylist()
    assert ids == table["row_id"].to_pylist()
    assert handle.bytes_fetched < len(sink.getvalue()) / 4  # the payload column never left S3

