"""Benchmark 9: what a daily incremental asks of S3 (a moto server that counts its traffic, no network).

    python -m bench.s3_incremental --base-rows 1000000 --rows 2000 --before main

Builds (once) a lake + DuckDB warehouse holding the SYNTHETIC ``--base-rows`` file, copies its
curated zone into a fresh bucket of a moto server behind a traffic counter (tests/s3_traffic.py:
every request, boto3's and delta-rs's alike, counted at the server), then runs
`python -m pipeline run --source file` on a ~2,000-row SYNTHETIC daily file (re-dated like a real
morning pull, bench/incremental.py) with the code of this tree and with the code of ``--before``
(a git ref, exported with `git archive`), each on its own copy of the same lake and warehouse.
Reports GET/PUT counts and bytes per zone; the yardstick is the batch's own bytes (the landing
Parquet the run writes). Target: curated + log GET bytes <= 5x the batch's bytes.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import uuid
from collections import defaultdict
from pathlib import Path

from .common import OUT, PYTHON, ROOT, ensure_synthetic, measure, pipeline_env, write_section
from .incremental import daily_file

AWS_ENV = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_REGION": "us-east-1",
           "AWS_DEFAULT_REGION": "us-east-1"}
SKIP_ZONES = ("raw", "landing", "quarantine")  # a morning run never reads them; not copied


def export_code(ref: str) -> tuple[Path, str]:
    """The tree of git ``ref`` in bench/out/code-<sha>, exported once; and the sha."""
    sha = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", ref], check=True, capture_output=True,
                         text=True).stdout.strip()
    dst = OUT / f"code-{sha}"
    if not (dst / "pipeline").exists():
        dst.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", sha], check=True, capture_output=True).stdout
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(dst, filter="data")
    return dst, sha


def build_base(rows: int) -> Path:
    """A local lake + warehouse with the SYNTHETIC base file (this tree's code), built once."""
    base = OUT / f"s3base_{rows}"
    if not (base / "warehouse.duckdb").exists():
        csv = ensure_synthetic(rows)
        work = Path(tempfile.mkdtemp(prefix="s3base-", dir=OUT))
        measure([PYTHON, "-m", "pipeline", "backfill", "--source", "file", "--file", str(csv), "--skip-analyze"],
                env=pipeline_env(work))
        shutil.rmtree(base, ignore_errors=True)
        work.rename(base)
    return base


class CountingS3:
    """The moto server behind the traffic counter, as a child process."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen([PYTHON, "-u", "-m", "tests.s3_traffic"], cwd=ROOT, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True)
        line = self.proc.stdout.readline()  # type: ignore[union-attr]
        match = re.search(r"Running on (http://127\.0\.0\.1:\d+)", line)
        if not match:
            raise RuntimeError(f"the counting S3 server did not start: {line!r}")
        self.endpoint = match.group(1)
        self.env = {**AWS_ENV, "AWS_ENDPOINT_URL": self.endpoint}

    def client(self):  # noqa: ANN201
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id="bench", aws_secret_access_key="bench")

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def upload_lake(s3: CountingS3, lake: Path) -> str:
    """A new bucket holding the local lake's curated and reference zones under ``lake/``; returns its name."""
    client, bucket = s3.client(), f"bench-{uuid.uuid4().hex[:10]}"
    client.create_bucket(Bucket=bucket)
    for path in sorted(p for p in lake.rglob("*") if p.is_file()):
        rel = path.relative_to(lake).as_posix()
        if rel.split("/", 1)[0] in SKIP_ZONES or "/_tmp" in f"/{rel}" or path.name.startswith(".tmp-"):
            continue
        client.upload_file(str(path), bucket, f"lake/{rel}")
    return bucket


def zone(key: str) -> str:
    if "/_delta_log/" in key:
        return "curated log"
    if not key:
        return "listing"
    parts = key.split("/")
    return "curated data" if parts[1:2] == ["curated"] else parts[1] if len(parts) > 1 else key


def per_zone(requests: list[dict]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for r in requests:
        z = zone(r["key"])
        if r["method"] == "GET":
            out[z]["gets"] += 1
            out[z]["get_bytes"] += r["received"]
        elif r["method"] in ("PUT", "POST"):
            out[z]["puts"] += 1
            out[z]["put_bytes"] += r["sent"]
        else:
            out[z][r["method"].lower() + "s"] += 1
    return {z: dict(v) for z, v in out.items()}


def run_variant(s3: CountingS3, base: Path, code: Path, days: list[Path]) -> list[dict]:
    """One copy of the base, then each daily file in turn with ``code``: what each run asked of S3."""
    from tests.s3_traffic import fetch_traffic

    bucket = upload_lake(s3, base / "lake")
    work = Path(tempfile.mkdtemp(prefix="s3incr-", dir=OUT))
    results = []
    try:
        shutil.copyfile(base / "warehouse.duckdb", work / "warehouse.duckdb")
        env = {**os.environ, **s3.env, "PIPELINE_WAREHOUSE": f"duckdb:///{work / 'warehouse.duckdb'}",
               "PIPELINE_LAKE": f"s3://{bucket}/lake", "PIPELINE_LOG_LEVEL": "WARNING", "PYTHONPATH": str(code),
               "TMPDIR": str(work)}
        for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL_S3"):
            env.pop(name, None)
        for day in days:
            fetch_traffic(s3.endpoint, reset=True)
            m = measure([PYTHON, "-m", "pipeline", "--json", "run", "--source", "file", "--file", str(day),
                         "--skip-analyze"], env=env, cwd=code)
            result = json.loads(m.stdout.strip().splitlines()[-1])
            requests = [r for r in fetch_traffic(s3.endpoint) if r["bucket"] == bucket]
            results.append({"zones": per_zone(requests), "seconds": m.seconds, "rows": result["rows_inserted"],
                            "warehouse_rows": result["warehouse_rows"]})
    finally:
        shutil.rmtree(work, ignore_errors=True)
        client = s3.client()
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for obj in page.get("Contents", []):
                client.delete_object(Bucket=bucket, Key=obj["Key"])
    return results


def totals(zones: dict[str, dict[str, int]], names: tuple[str, ...] | None = None) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for z, counts in zones.items():
        if names is None or z in names:
            for k, v in counts.items():
                out[k] += v
    return out


def row(label: str, r: dict) -> str:
    z = r["zones"]
    batch = z.get("landing", {}).get("put_bytes", 0)
    lake_reads = totals(z, ("curated data", "curated log"))
    every = totals(z)
    kb = lambda n: f"{n / 1024:,.0f} KB"  # noqa: E731
    return (f"| {label} | {r['rows']:,} | {kb(batch)} | {z.get('curated data', {}).get('gets', 0):,} / "
            f"{kb(z.get('curated data', {}).get('get_bytes', 0))} | {z.get('curated log', {}).get('gets', 0):,} / "
            f"{kb(z.get('curated log', {}).get('get_bytes', 0))} | {every['gets']:,} / {kb(every['get_bytes'])} | "
            f"**{lake_reads['get_bytes'] / max(batch, 1):.1f}x** | {every['puts']:,} / {kb(every['put_bytes'])} | "
            f"{z.get('curated data', {}).get('put_bytes', 0) / max(batch, 1):.1f}x | {r['seconds']:.1f} s |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-rows", type=int, default=1_000_000)
    parser.add_argument("--rows", type=int, default=2_000)
    parser.add_argument("--before", default="main", help="git ref of the code to compare with")
    parser.add_argument("--days", type=int, default=3, help="daily runs in a row with this tree's code")
    args = parser.parse_args()
    base = build_base(args.base_rows)
    days = [daily_file(ensure_synthetic(args.rows, seed=20251102 + i)) for i in range(args.days)]
    before_code, before_sha = export_code(args.before)
    s3 = CountingS3()
    try:
        before = run_variant(s3, base, before_code, days[:1])
        after = run_variant(s3, base, ROOT, days)
    finally:
        s3.close()
    for label, res in (("before", before), ("after", after)):
        for i, r in enumerate(res):
            print(label, i + 1, json.dumps(r))
    header = ("| code | rows merged | batch (landing Parquet PUT) | curated data GETs / bytes | Delta log GETs / bytes | "
              "all GETs / bytes | curated GET bytes / batch | all PUTs / bytes | curated data PUT bytes / batch | "
              "process |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
    lines = [row(f"before (`{args.before}` = {before_sha})", before[0])]
    lines += [row(f"after, day {i + 1}", r) for i, r in enumerate(after)]
    body = (
        header + "\n".join(lines) + "\n\n"
        f"Base: {args.base_rows:,} SYNTHETIC rows (a local backfill with this tree's code, its curated zone copied "
        "to a fresh bucket per code version); each run is `python -m pipeline run --source file --file <daily> "
        f"--skip-analyze` on a {args.rows:,}-row SYNTHETIC daily file (95% of stops in the last 7 days, 5% up to 60 "
        "days late), DuckDB warehouse, S3 lake on a moto server. Bytes are counted at the server (tests/s3_traffic.py): "
        "GET = response bodies of object reads, ranged reads and listings; PUT = request bodies. 'curated GET bytes / "
        "batch' = curated data + Delta log GET bytes over the landing Parquet the run wrote (target <= 5x). Days 2 and "
        "3 run further daily files (other seeds) on the lake day 1 left: a day reads the Delta log from its checkpoint "
        "plus the small files of its months it folds into its own (day 2 folds day 1's three files, at most 2x its "
        "rows), so the appended files do not pile up. PUTs include the raw file as received (~830 KB of CSV). The "
        "process times were taken on a busy machine (see the load average) and are not compared."
    )
    write_section("s3-incremental", "10. Daily incremental on an S3 lake: what it reads and writes",
                  f"python -m bench.s3_incremental --base-rows {args.base_rows} --rows {args.rows} "
                  f"--before {args.before} --days {args.days}", body)


if __name__ == "__main__":
    sys.exit(main())
