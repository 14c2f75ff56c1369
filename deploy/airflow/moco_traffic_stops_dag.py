"""Airflow DAG: the Montgomery County traffic-stops load, daily at 07:00 county time.

Install: copy this file into the DAGs folder of an Airflow (2.7+ or 3.x) whose workers can run the
project (a checkout with its own venv; the project's dependencies stay out of Airflow's).

Configuration, all optional except the warehouse:

* Airflow Variable ``moco_project_dir``  - the checkout (default ``/opt/moco-traffic-stops``)
* Airflow Variable ``moco_python``       - its interpreter (default ``<project>/.venv/bin/python``)
* Airflow Connection ``moco_warehouse``  - the warehouse; its URI becomes ``PIPELINE_WAREHOUSE``.
  Connection type ``postgres`` or ``redshift`` (``?schema=...`` goes in "Extra" as ``{"schema": "moco"}``).
  Without it, ``PIPELINE_WAREHOUSE`` from the worker's environment is used.
* Airflow Variable ``moco_env``          - JSON object of further variables (``PIPELINE_LAKE``,
  ``REDSHIFT_IAM_ROLE``, ``REDSHIFT_S3_STAGING``, ``PIPELINE_ALERT_WEBHOOK``, ...).
* Airflow Connection ``moco_socrata`` (optional) - its password is the ``SOCRATA_APP_TOKEN``.

Secrets stay in Airflow's connection store (or its secrets backend) and reach the pipeline through
the child process's environment only: nothing is templated into a command line or logged.

Exit codes of ``python -m pipeline`` decide what Airflow does:
0 success; 1 load failed (network, warehouse down...) -> retried; 2 configuration error and
3 quality check failed -> failed at once, no retry (a retry can't fix them; the previous data keeps
serving and the pipeline's own alert has gone out).
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from datetime import timedelta

import pendulum
from airflow.exceptions import AirflowException, AirflowFailException

try:  # Airflow 3
    from airflow.sdk import DAG, Variable
    from airflow.providers.standard.operators.python import PythonOperator
except ImportError:  # Airflow 2.7+
    from airflow import DAG
    from airflow.models import Variable
    from airflow.operators.python import PythonOperator

DAG_ID = "moco_traffic_stops_daily"
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_QUALITY = 0, 1, 2, 3


def _variable(name: str, default: str | None = None) -> str | None:
    try:
        return Variable.get(name)
    except Exception:  # noqa: BLE001 - unset variable
        return default


def _pipeline_env() -> dict[str, str]:
    """The child's environment: the worker's, plus the warehouse URI and extras from Airflow."""
    env = dict(os.environ)
    extra = _variable("moco_env")
    if extra:
        env.update({str(k): str(v) for k, v in json.loads(extra).items()})
    try:
        from airflow.hooks.base import BaseHook

        conn = BaseHook.get_connection("moco_warehouse")
        uri = conn.get_uri()
        # Airflow spells the scheme after the connection type ("postgres", "redshift"); both are accepted.
        env["PIPELINE_WAREHOUSE"] = uri
    except Exception:  # noqa: BLE001 - no connection configured: keep the worker's PIPELINE_WAREHOUSE
        pass
    try:
        from airflow.hooks.base import BaseHook

        token = BaseHook.get_connection("moco_socrata").password
        if token:
            env["SOCRATA_APP_TOKEN"] = token
    except Exception:  # noqa: BLE001
        pass
    env.setdefault("PIPELINE_LOG_LEVEL", "INFO")
    return env


def run_pipeline(*args: str) -> None:
    project = _variable("moco_project_dir", "/opt/moco-traffic-stops")
    python = _variable("moco_python", f"{project}/.venv/bin/python")
    env = _pipeline_env()
    env["PYTHONPATH"] = project
    # A scratch folder per task, removed after it, as TMPDIR: with an S3 lake DuckDB (the processing
    # engine) spills there past PIPELINE_MEMORY_LIMIT (a local lake spills into <lake>/_tmp).
    # Output goes straight to the task log (no secrets are logged).
    with tempfile.TemporaryDirectory(prefix="moco-pipeline-") as work:
        env["TMPDIR"] = work
        proc = subprocess.run([python, "-m", "pipeline", *args], cwd=work, env=env, check=False)
    if proc.returncode == EXIT_OK:
        return
    if proc.returncode in (EXIT_USAGE, EXIT_QUALITY):
        kind = "configuration error" if proc.returncode == EXIT_USAGE else "quality check failed"
        raise AirflowFailException(f"pipeline {args[0]}: {kind} (exit {proc.returncode}); not retrying")
    raise AirflowException(f"pipeline {args[0]} failed (exit {proc.returncode}); will retry")  # retries=0 for status


with DAG(
    dag_id=DAG_ID,
    description="Socrata 4mse-ku6q -> lake -> warehouse, then a freshness check",
    schedule="0 7 * * *",
    start_date=pendulum.datetime(2025, 1, 1, tz="America/New_York"),  # 07:00 county time, DST-aware
    catchup=False,  # each run is incremental from the stored watermark: missed days need no backfill runs
    max_active_runs=1,  # two loads never overlap (the warehouses also refuse or serialise a second one)
    default_args={
        "owner": "data",
        "retries": 2,
        "retry_delay": timedelta(minutes=20),
        "retry_exponential_backoff": True,
        "execution_timeout": timedelta(hours=3),
    },
    tags=["moco", "traffic-stops"],
) as dag:
    load = PythonOperator(task_id="load", python_callable=run_pipeline, op_args=["run"])
    freshness = PythonOperator(
        task_id="freshness",
        python_callable=run_pipeline,
        op_args=["status", "--alert"],  # exit 1 (and an alert) when the last load is older than PIPELINE_STALE_AFTER_DAYS
        retries=0,
    )
    load >> freshness
