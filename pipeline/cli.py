"""Command line: run (daily incremental, default), backfill, reference, status, analyze, repair.

Exit codes (for cron, systemd and Airflow; the table is in docs/DEPLOY.md): 0 success, 1 load
failed (previous data still serving), 2 usage or configuration error (found before any work),
3 quality check failed (previous data still serving).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from datetime import date, datetime
from pathlib import Path

from .config import Settings, load_settings

log = logging.getLogger("pipeline")

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_QUALITY = 0, 1, 2, 3


class UsageError(Exception):
    """Bad arguments or paths, found before any work (exit 2)."""


ENV_HELP = """
configuration (environment variables, read in pipeline/config.py; with none set you get the
embedded, offline set-up: a DuckDB file and a local lake folder under data/):
  PIPELINE_WAREHOUSE  default duckdb:///data/warehouse.duckdb
      or duckdb:////abs/x.duckdb | postgresql://user:pass@host/db | redshift://user:pass@host:5439/db
  PIPELINE_LAKE  default data/lake
      a local folder (relative to the project) or s3://bucket/prefix
  PIPELINE_MEMORY_LIMIT  default 1500MB
      DuckDB memory for a load; beyond it, spills to <lake>/_tmp (local lake) or the temp dir (S3 lake)
  PIPELINE_STALE_AFTER_DAYS  default 2
      `status` exits 1 (and `status --alert` alerts) past this age; it also exits 1 for a dead run
  PIPELINE_SMALL_COUNT  default 10
      dashboard cells with fewer stops are suppressed
  PIPELINE_DASHBOARD_REPLICA_MB  default 512
      PostgreSQL/Redshift: the dashboard's local copy of the marts, its DuckDB memory; 0 turns it off
  PIPELINE_LOG_LEVEL  default INFO
      DEBUG | INFO | WARNING
  PIPELINE_LOCK_WAIT_SECONDS  default 60
      how long a load (or `reference`, `analyze`) waits for another load's lock
  PIPELINE_STATEMENT_TIMEOUT_SECONDS  default 1800
      PostgreSQL/Redshift: a load statement is cancelled after this
  PIPELINE_MAX_QUARANTINE_SHARE  default 0.10
      a load quarantining a larger share of its rows stops (exit 3)
  PIPELINE_ALERT_WEBHOOK  no default
      Slack/Teams/JSON webhook told of failed, abandoned and stale runs
  PIPELINE_ALERT_SMTP  no default
      the same by e-mail: smtp://user:pass@host:587 (STARTTLS) | smtps://user:pass@host:465
  PIPELINE_ALERT_EMAIL_TO  no default
      e-mail recipients, comma-separated
  SOCRATA_DOMAIN  default data.montgomerycountymd.gov
      http://host:port reaches a local mirror
  SOCRATA_DATASET  default 4mse-ku6q
      the Traffic Violations dataset
  SOCRATA_APP_TOKEN  no default
      optional app token (higher rate limits); never logged
  SOCRATA_PAGE_SIZE  default 50000
      rows per API page
  SOCRATA_TIMEOUT  default 60
      seconds per API request
  SOCRATA_MAX_RETRIES  default 6
      retries, with backoff, of a failed API request
  SOCRATA_LOOKBACK_HOURS  default 72
      re-read window before the stored :updated_at watermark
  REDSHIFT_IAM_ROLE  no default
      role Redshift assumes for COPY (arn:aws:iam::<account>:role/<name>)
  REDSHIFT_S3_STAGING  no default
      s3://bucket/prefix where a batch is staged for COPY
AWS credentials come from boto3's usual chain (instance profile, AWS_PROFILE, ...); AWS_ENDPOINT_URL
points at an S3-compatible store.

exit codes: 0 ok, 1 load failed (or `status`: data stale / lake damaged), 2 usage/configuration error
(before any work), 3 quality check failed (on 1 and 3 the previous data keeps serving); docs/DEPLOY.md.
"""


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from exc


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline",
        description="Load Montgomery County's Traffic Violations data (Socrata 4mse-ku6q) into the lake and warehouse.",
        epilog=ENV_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("--json", action="store_true", help="print the run result as JSON on stdout")
    # The same two options after the command (`status --json` as well as `--json status`); SUPPRESS
    # keeps a subcommand that was not given them from resetting what came before it.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="debug logging")
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                        help="print the result as JSON on stdout")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def load_options(p: argparse.ArgumentParser, default_source: str) -> None:
        p.add_argument(
            "--source", choices=("socrata", "file", "sample"), default=None,
            help=f"where rows come from (default: file with --file, else {default_source}): the Socrata API, "
            "a CSV export (--file), or the real sample bundled in data/sample",
        )
        p.set_defaults(default_source=default_source)
        p.add_argument("--file", type=Path, action="append", metavar="PATH",
                       help="a CSV export from the portal, plain or .gz (repeat for several)")
        p.add_argument("--since", type=_date, metavar="YYYY-MM-DD",
                       help="only stops on or after this date (inclusive; socrata: a date_of_stop filter in the query; "
                       "such a partial run never moves the :updated_at watermark)")
        p.add_argument("--until", type=_date, metavar="YYYY-MM-DD", help="only stops on or before this date (inclusive)")
        p.add_argument("--accept-schema-change", action="store_true",
                       help="load even though a known source field disappeared or went null (a real change at the "
                       "source, checked by a maintainer); without it such a load stops with exit 3 naming the field")
        p.add_argument("--skip-analyze", action="store_true",
                       help="do not refresh the disparity analyses after the load (run `analyze` later)")

    run = sub.add_parser("run", parents=[common], help="the daily incremental load (default command)",
                         description="Pull rows new or edited since the stored watermark (minus a lookback) and upsert them.")
    load_options(run, "socrata")
    run.add_argument("--reconcile", action="store_true",
                     help="also compare all row ids with the portal and report rows deleted at the source")
    run.add_argument("--delete-missing", action="store_true",
                     help="with --reconcile: remove rows deleted at the source (refused above 5%% of rows)")
    run.add_argument("--allow-mass-delete", action="store_true",
                     help="with --delete-missing: allow deleting more than 5%% of the rows")
    run.add_argument("--if-empty", action="store_true", help="do nothing if the warehouse already has data")

    backfill = sub.add_parser("backfill", parents=[common], help="load everything from a source (idempotent: reruns change nothing)")
    load_options(backfill, "sample")
    backfill.add_argument("--if-empty", action="store_true", help="do nothing if the warehouse already has data")

    ref = sub.add_parser("reference", parents=[common], help="load the ZIP/tract reference tables (ZIP demographics, crosswalk)")
    ref.add_argument("--hud-zip-tract", type=Path, metavar="PATH",
                     help="HUD USPS ZIP_TRACT file (csv/xlsx); its RES_RATIO weights are preferred over land-area shares")
    ref.add_argument("--rebuild-bundle", type=Path, metavar="SHARED_DATA_DIR",
                     help="re-create data/reference from the original source files in this folder first")

    status = sub.add_parser("status", parents=[common], help="last runs, row counts and freshness (exit 1 when stale)")
    status.add_argument("--alert", action="store_true",
                        help="when the data is stale, also send the alert (PIPELINE_ALERT_WEBHOOK / _SMTP)")
    status.add_argument("--verify", action="store_true",
                        help="also check every file of the curated zone against its Delta log (present, recorded "
                        "size); exit 1 when one is missing or damaged (then see `repair`)")
    sub.add_parser("repair", parents=[common], help="rebuild a damaged curated zone (missing files, a broken Delta log) from the warehouse",
                   description="Check the curated Delta table; when a file is missing or has the wrong size, or its "
                   "log cannot be read, rebuild the table from the warehouse's rows (which the commit protocol keeps "
                   "equal to it), record the new version in the warehouse and say what was done. Takes the load lock.")
    sub.add_parser("analyze", parents=[common], help="recompute the disparity analyses (benchmark, outcome test, veil of darkness)",
                   description="Write analysis_benchmark, analysis_outcome_test, analysis_veil_of_darkness and "
                   "analysis_caveats to the warehouse (also done after every successful load).")
    return parser


def _setup_logging(settings: Settings, verbose: bool) -> None:
    level = logging.DEBUG if verbose else getattr(logging, settings.log_level.upper(), logging.INFO)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)-7s %(name)s: %(message)s", stream=sys.stderr)
    # Driver internals can echo connection parameters at DEBUG; never let -v turn them on.
    for noisy in ("botocore", "boto3", "urllib3", "redshift_connector", "psycopg", "s3transfer"):
        logging.getLogger(noisy).setLevel(max(level, logging.INFO))


def _make_source(args: argparse.Namespace, settings: Settings, command: str):  # noqa: ANN202
    from .extract.files import FileSource, SampleSource

    if args.source == "file":
        source = FileSource(args.file)
    elif args.source == "sample":
        source = SampleSource()
    else:
        from .extract.socrata_source import SocrataSource

        source = SocrataSource(settings, full=(command == "backfill"), since=args.since, until=args.until)
    if args.source in ("file", "sample") and (args.since or args.until):
        from .extract.files import DateWindow

        source = DateWindow(source, args.since, args.until)
    return source


def check_args(args: argparse.Namespace) -> None:
    """Every argument and path a command names, checked before it does anything (UsageError: exit 2)."""
    if args.command in ("run", "backfill"):
        # --file alone means a file load: silently loading the sample instead would be a surprise.
        if args.source is None:
            args.source = "file" if args.file else args.default_source
        elif args.file and args.source != "file":
            raise UsageError(f"--file goes with --source file, not --source {args.source}")
        if args.source == "file" and not args.file:
            raise UsageError("--source file needs --file PATH (a CSV export, plain or .gz)")
        for path in args.file or []:
            _check_input(path, "--file")
        if args.since and args.until and args.until < args.since:
            raise UsageError(f"--until {args.until} is before --since {args.since}: no day is in that window")
    if args.command == "reference":
        if args.hud_zip_tract:
            _check_input(args.hud_zip_tract, "--hud-zip-tract")
        if args.rebuild_bundle and not args.rebuild_bundle.is_dir():
            raise UsageError(f"--rebuild-bundle: {args.rebuild_bundle} is not a folder")


def _check_input(path: Path, option: str) -> None:
    if not path.exists():
        raise UsageError(f"{option}: input file not found: {path}")
    if path.is_dir():
        raise UsageError(f"{option}: {path} is a folder, not a file (name the CSV export itself)")
    try:
        with open(path, "rb"):
            pass
    except OSError as exc:
        raise UsageError(f"{option}: {path} cannot be read: {exc.strerror}") from None


def cmd_load(args: argparse.Namespace, settings: Settings) -> int:
    from .load import run_load
    from .runlog import result_dict
    from .reference import ensure_reference
    from .warehouse import open_warehouse

    warehouse = open_warehouse(settings)
    if getattr(args, "if_empty", False) and warehouse.exists():
        n = warehouse.query("select count(*) as n from moco_traffic_violations").iloc[0, 0]
        if n:
            log.info("warehouse already holds %s rows; nothing to do (--if-empty)", f"{int(n):,}")
            return EXIT_OK
    source = _make_source(args, settings, args.command)
    ensure_reference(settings, warehouse)
    result = run_load(settings, source, args.command, warehouse=warehouse,
                      require_rows=(args.command == "backfill"), accept_schema_change=args.accept_schema_change)
    if not args.skip_analyze:
        _analyze_after_load(settings, warehouse)
    if args.command == "run" and getattr(args, "reconcile", False):
        from .reconcile import reconcile

        reconcile(settings, warehouse, delete=args.delete_missing, allow_mass_delete=args.allow_mass_delete)
    if args.json:
        print(json.dumps(result_dict(result), default=str))
    else:
        print(result.summary())
    return EXIT_OK


def _analyze_after_load(settings: Settings, warehouse) -> None:  # noqa: ANN001
    """The load has committed; an analysis failure is reported but must not fail the load."""
    from .analysis import run_all

    try:
        run_all(warehouse, settings=settings)
    except Exception as exc:  # noqa: BLE001
        log.error("analyses not refreshed (the load itself succeeded): %s: %s", type(exc).__name__, exc)


def cmd_analyze(args: argparse.Namespace, settings: Settings) -> int:
    from .analysis import run_all
    from .warehouse import open_warehouse

    warehouse = open_warehouse(settings)
    if not warehouse.exists():
        print("no warehouse yet; run `python -m pipeline backfill --source sample` first", file=sys.stderr)
        return EXIT_USAGE
    tables = run_all(warehouse, settings=settings)
    print(", ".join(f"{name}: {len(df)} rows" for name, df in tables.items()))
    return EXIT_OK


def cmd_reference(args: argparse.Namespace, settings: Settings) -> int:
    from .reference import load_reference
    from .warehouse import open_warehouse

    if args.rebuild_bundle:
        from .config import REFERENCE_DIR
        from .reference_build import build_bundle

        build_bundle(args.rebuild_bundle, REFERENCE_DIR)
    summary = load_reference(settings, open_warehouse(settings), hud_path=args.hud_zip_tract)
    print(json.dumps(summary, default=str) if args.json else
          ", ".join(f"{k}: {v}" for k, v in summary.items()))
    return EXIT_OK


def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    from .status import status_report

    report = status_report(settings, verify=args.verify)
    if args.alert and not report.get("fresh", True):
        from .alerts import alert_stale

        alert_stale(settings, report)
    print(json.dumps(report, default=str, indent=2) if args.json else report["text"])
    # Stale data, a run that died (its row still says `running`) or a damaged lake is a failure to look at.
    healthy = report.get("fresh", True) and not report.get("dead_runs") and not report.get("lake_problems")
    return EXIT_OK if healthy else EXIT_FAILED


def cmd_repair(args: argparse.Namespace, settings: Settings) -> int:
    from .repair import repair

    outcome = repair(settings)
    print(json.dumps(outcome, default=str) if args.json else outcome["text"])
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:  # `python -m pipeline [-v] [--json]` = the daily run
        args = parser.parse_args([*(sys.argv[1:] if argv is None else argv), "run"])
    try:
        settings = load_settings()
        settings.validate()
    except ValueError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        check_args(args)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    _setup_logging(settings, args.verbose)
    from .alerts import alert_on_failure
    from .extract.base import SchemaError
    from .quality import QualityError

    handlers = {"run": cmd_load, "backfill": cmd_load, "reference": cmd_reference, "status": cmd_status,
                "analyze": cmd_analyze, "repair": cmd_repair}
    try:
        return handlers[args.command](args, settings)
    except (QualityError, SchemaError) as exc:
        # A gate stopped the load (schema contract, quarantine share, a count check): nothing was published.
        log.error("%s stopped, nothing published (the previous data keeps serving): %s", args.command, exc)
        alert_on_failure(settings, args.command, exc)
        return EXIT_QUALITY
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as exc:  # noqa: BLE001 - the CLI boundary: report, alert, exit non-zero
        from .config import redact_url

        message = redact_url(str(exc))
        log.error("%s failed: %s: %s", args.command, type(exc).__name__, message)
        log.debug("traceback", exc_info=True)
        alert_on_failure(settings, args.command, exc)
        return EXIT_FAILED
