"""The Socrata client against a local fake SODA server: paging, windows, retries, row mapping.

No internet: every request goes to tests/fake_socrata.py on 127.0.0.1. Sleeps are injected no-ops,
so the backoff is asserted rather than waited out.
"""

from __future__ import annotations

import json
import logging
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pyarrow as pa
import pytest
from sodapy import Socrata

from pipeline.config import load_settings
from pipeline.extract.socrata import (
    Page,
    SchemaError,
    SocrataError,
    SocrataExtractor,
    coordinates_from_geolocation,
    make_client,
    parse_domain,
    parse_retry_after,
    rows_to_table,
    soql_timestamp,
)
from pipeline.schema import REQUIRED_SOURCE_COLUMNS, SOURCE_COLUMNS

try:  # the lead's conftest may import these too; either way it is one module object
    from tests.fake_socrata import (  # noqa: F401 - pytest fixtures
        FAKE_APP_TOKEN,
        FIXTURE_PAGE,
        FakeSocrata,
        export_rows_to_api_rows,
        fake_socrata,
        find_sample,
        parse_stamp,
        sample_api_rows,
        socrata_settings,
        socrata_stamp,
    )
except ImportError:  # pragma: no cover - tests/ on sys.path but not the project root
    from fake_socrata import (  # type: ignore[no-redef]  # noqa: F401
        FAKE_APP_TOKEN,
        FIXTURE_PAGE,
        FakeSocrata,
        export_rows_to_api_rows,
        fake_socrata,
        find_sample,
        parse_stamp,
        sample_api_rows,
        socrata_settings,
        socrata_stamp,
    )

CANONICAL = [c for c, _ in SOURCE_COLUMNS]


class SleepRecorder:
    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def sleeps() -> SleepRecorder:
    return SleepRecorder()


@pytest.fixture
def extractor(socrata_settings, sleeps):
    with SocrataExtractor(socrata_settings, sleep=sleeps, rng=random.Random(7)) as ex:
        yield ex


def collect(pages) -> tuple[list[Page], list[str]]:
    pages = list(pages)
    return pages, [row[":id"] for page in pages for row in page.rows]


# --------------------------------------------------------------------------------------------
# Paging
# --------------------------------------------------------------------------------------------


def test_pages_return_every_row_exactly_once_in_key_order(extractor, fake_socrata):
    pages, ids = collect(extractor.pages())

    expected = [r[":id"] for r in sorted(fake_socrata.rows, key=lambda r: (parse_stamp(r[":updated_at"]), r[":id"]))]
    assert len(expected) == 3000
    assert ids == expected  # no gap, no duplicate, (:updated_at, :id) order
    assert [p.number for p in pages] == [1, 2, 3, 4, 5, 6]
    assert [p.offset for p in pages] == [0, 500, 1000, 1500, 2000, 2500]
    assert all(len(p.rows) == 500 for p in pages)
    # 3,000 is a multiple of 500: one more request finds the end (and yields no page).
    reqs = fake_socrata.data_requests()
    assert [r.offset for r in reqs] == [0, 500, 1000, 1500, 2000, 2500, 3000]
    for req, page in zip(reqs, [None, *pages]):
        assert req.params["$order"] == ":updated_at, :id"
        assert req.params["$select"] == ":*, *"
        assert req.params["$limit"] == "500"
        assert "$offset" not in req.params
        if page is None:
            assert "$where" not in req.params  # the first page starts at the beginning
        else:  # each later page starts after the last row of the page before
            last = page.rows[-1]
            assert req.params["$where"] == (
                f"(:updated_at > '{soql_timestamp(last[':updated_at'])}' OR (:updated_at = "
                f"'{soql_timestamp(last[':updated_at'])}' AND :id > '{last[':id']}'))")


def test_paging_stops_at_a_short_last_page(extractor, fake_socrata):
    fake_socrata.delete_rows([fake_socrata.rows[0][":id"]])

    pages, ids = collect(extractor.pages())

    assert len(ids) == len(set(ids)) == 2999
    assert [len(p.rows) for p in pages] == [500] * 5 + [499]
    assert len(fake_socrata.data_requests()) == 6


def test_page_raw_is_the_exact_response_body(extractor, fake_socrata):
    pages = list(extractor.pages())
    served = [r.body for r in fake_socrata.data_requests() if r.body != b"[]\n"]

    assert [p.raw for p in pages] == served
    assert json.loads(pages[0].raw) == pages[0].rows
    assert pages[0].url.startswith(fake_socrata.url + "/resource/4mse-ku6q.json?")
    assert "%24order=%3Aupdated_at%2C+%3Aid" in pages[0].url


def test_rows_carry_system_fields_and_the_page_reports_its_fields(extractor):
    page = next(iter(extractor.pages()))

    assert all(":id" in r and ":updated_at" in r for r in page.rows)
    assert page.fields is not None and ":id" in page.fields and "race" in page.fields
    assert page.max_updated_at == max(r[":updated_at"] for r in page.rows)


def test_an_empty_dataset_yields_no_pages(extractor, fake_socrata):
    fake_socrata.rows.clear()

    assert list(extractor.pages()) == []
    assert list(extractor.all_ids()) == []
    assert extractor.count() == 0
    assert len(fake_socrata.data_requests()) == 3


def test_the_fake_shuffles_rows_when_no_order_is_given(fake_socrata):
    # Why $order=:id matters: without it, offset paging over the fake repeats and skips rows.
    first, _ = fake_socrata.query({"$limit": "500", "$offset": "0"}, request_number=1)
    second, _ = fake_socrata.query({"$limit": "500", "$offset": "0"}, request_number=2)
    assert [r["date_of_stop"] for r in first] != [r["date_of_stop"] for r in second]


# --------------------------------------------------------------------------------------------
# Incremental window
# --------------------------------------------------------------------------------------------


def test_window_where_subtracts_the_lookback_and_formats_soql_timestamps(extractor):
    watermark = datetime(2025, 1, 10, 12, 30, 15, 250000, tzinfo=timezone.utc)
    assert extractor.window_where(watermark) == ":updated_at >= '2025-01-07T12:30:15.250'"
    until = datetime(2025, 1, 11, 8, 0, tzinfo=timezone(timedelta(hours=-5)))  # 13:00 UTC
    assert extractor.window_where(watermark, until) == (
        ":updated_at >= '2025-01-07T12:30:15.250' AND :updated_at < '2025-01-11T13:00:00.000'"
    )
    assert extractor.window_where() is None
    # The watermark may also be the :updated_at string exactly as the API sent it.
    assert extractor.window_where("2025-01-10T12:30:15.250Z") == ":updated_at >= '2025-01-07T12:30:15.250'"


def test_incremental_pages_return_only_rows_updated_inside_the_window(extractor, fake_socrata):
    full_ids = [r[":id"] for p in extractor.pages() for r in p.rows]
    watermark = max(parse_stamp(r[":updated_at"]) for r in fake_socrata.rows)

    # Between runs: two edits and a late insert, all after the watermark; then the next run.
    fake_socrata.advance(days=3)
    edited = [full_ids[10], full_ids[2000]]
    fake_socrata.edit_row(edited[0], {"violation_type": "Warning"})
    fake_socrata.edit_row(edited[1], {"race": "OTHER", "search_conducted": "Yes"})
    late = fake_socrata.insert_rows([{k: v for k, v in fake_socrata.rows[5].items() if not k.startswith(":")}])
    fake_socrata.requests.clear()

    pages, ids = collect(extractor.pages(updated_since=watermark))

    window_start = watermark - timedelta(hours=72)
    in_window = [r for r in fake_socrata.rows if parse_stamp(r[":updated_at"]) >= window_start]
    expected = [r[":id"] for r in sorted(in_window, key=lambda r: (parse_stamp(r[":updated_at"]), r[":id"]))]
    assert ids == expected
    assert set(edited) | set(late) <= set(ids)
    for req in fake_socrata.data_requests():
        assert req.params["$where"].startswith(f":updated_at >= '{soql_timestamp(window_start)}'")
        assert req.params["$order"] == ":updated_at, :id"
    newest = max((p.max_updated_at for p in pages), key=parse_stamp)
    assert parse_stamp(newest) == fake_socrata.now


def test_an_upper_bound_excludes_rows_updated_at_or_after_it(extractor, fake_socrata):
    stamps = sorted({parse_stamp(r[":updated_at"]) for r in fake_socrata.rows})
    until = stamps[3]

    _, ids = collect(extractor.pages(updated_until=until))

    assert sorted(ids) == sorted(r[":id"] for r in fake_socrata.rows if parse_stamp(r[":updated_at"]) < until)
    assert fake_socrata.requests[0].params["$where"] == f":updated_at < '{soql_timestamp(until)}'"


def test_count_uses_the_same_window_as_pages(extractor, fake_socrata):
    watermark = max(parse_stamp(r[":updated_at"]) for r in fake_socrata.rows) + timedelta(hours=70)

    assert extractor.count() == 3000
    in_window = sum(1 for r in fake_socrata.rows if parse_stamp(r[":updated_at"]) >= watermark - timedelta(hours=72))
    assert 0 < in_window < 3000
    assert extractor.count(updated_since=watermark) == in_window
    assert fake_socrata.requests[-1].params["$select"] == "count(*)"


def test_all_ids_pages_over_id_only(extractor, fake_socrata):
    ids = list(extractor.all_ids())

    assert ids == sorted(r[":id"] for r in fake_socrata.rows)
    assert {r.params["$select"] for r in fake_socrata.data_requests()} == {":id"}
    assert all(r.params["$order"] == ":id" for r in fake_socrata.data_requests())


def test_mutations_between_runs_show_up_in_the_next_extract(extractor, fake_socrata):
    before = list(extractor.all_ids())
    fake_socrata.delete_rows(before[:3])
    fake_socrata.drop_field("race")

    after = list(extractor.all_ids())
    assert set(before) - set(after) == set(before[:3])
    page = next(iter(extractor.pages()))
    with pytest.raises(SchemaError, match="'race'"):
        rows_to_table(page.rows, page.fields)


# --------------------------------------------------------------------------------------------
# Retries and failures
# --------------------------------------------------------------------------------------------


def test_429_waits_for_retry_after_then_continues(extractor, fake_socrata, sleeps):
    fake_socrata.fail(429, retry_after=7, when=FakeSocrata.at_offset(500))

    _, ids = collect(extractor.pages())

    assert len(ids) == len(set(ids)) == 3000
    assert sleeps.calls == [7.0]
    assert [r.offset for r in fake_socrata.data_requests()].count(500) == 2


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_a_request_timeout_throttle_or_server_error_is_retried(extractor, fake_socrata, sleeps, status):
    # 408 (the server gave up waiting for the request) is as transient as a 5xx: another try.
    fake_socrata.fail(status, when=FakeSocrata.at_offset(500))

    _, ids = collect(extractor.pages())

    assert len(ids) == len(set(ids)) == 3000
    assert [r.offset for r in fake_socrata.data_requests()].count(500) == 2
    assert len(sleeps.calls) == 1


@pytest.mark.parametrize("status", [400, 401, 404, 409])
def test_other_client_errors_are_final(extractor, fake_socrata, sleeps, status):
    fake_socrata.fail(status, times=5)

    with pytest.raises(SocrataError, match=f"HTTP {status}"):
        list(extractor.pages())
    assert len(fake_socrata.data_requests()) == 1 and sleeps.calls == []


def test_retry_after_is_capped(socrata_settings, fake_socrata, sleeps):
    fake_socrata.fail(503, retry_after=86400)
    ex = SocrataExtractor(socrata_settings, sleep=sleeps, retry_after_cap=30)

    assert len(list(ex.pages())) == 6
    assert sleeps.calls == [30]


def test_500_then_success_backs_off_with_full_jitter(socrata_settings, fake_socrata, sleeps):
    fake_socrata.fail(500, times=2, when=FakeSocrata.at_offset(1000))
    ex = SocrataExtractor(socrata_settings, sleep=sleeps, backoff_base=0.5, backoff_cap=60, rng=random.Random(1))

    _, ids = collect(ex.pages())

    assert len(set(ids)) == 3000
    assert len(sleeps.calls) == 2
    assert 0 <= sleeps.calls[0] <= 0.5 and 0 <= sleeps.calls[1] <= 1.0  # uniform(0, base * 2**n)
    expected_rng = random.Random(1)
    assert sleeps.calls == [expected_rng.uniform(0, 0.5), expected_rng.uniform(0, 1.0)]


def test_a_timeout_is_retried(fake_socrata, sleeps):
    settings = load_settings(
        {"SOCRATA_DOMAIN": fake_socrata.url, "SOCRATA_PAGE_SIZE": "1000", "SOCRATA_TIMEOUT": "2", "SOCRATA_MAX_RETRIES": "2"}
    )
    fake_socrata.slow(3.5, when=FakeSocrata.at_offset(1000))
    ex = SocrataExtractor(settings, sleep=sleeps)

    _, ids = collect(ex.pages())

    assert len(set(ids)) == 3000
    requests = fake_socrata.data_requests()
    assert [r.fault for r in requests if r.offset == 1000][:2] == ["slow", None]
    # One back-off per repeated request (a loaded machine may make another page outlast 2 s too).
    assert len(sleeps.calls) == len(requests) - len({r.offset for r in requests}) >= 1


@pytest.mark.parametrize("full_length", [False, True], ids=["invalid-json", "short-read"])
def test_a_truncated_body_is_fetched_again(extractor, fake_socrata, sleeps, full_length):
    fake_socrata.truncate(keep=0.6, full_length=full_length, when=FakeSocrata.at_offset(2500))

    pages, ids = collect(extractor.pages())

    assert sorted(ids) == sorted(r[":id"] for r in fake_socrata.rows) and len(ids) == 3000
    assert pages[-1].raw == fake_socrata.data_requests()[-2].body  # the complete retry, not the cut one
    assert len(sleeps.calls) == 1


def test_a_dropped_connection_is_retried(extractor, fake_socrata, sleeps):
    fake_socrata.drop(when=FakeSocrata.at_offset(0))

    _, ids = collect(extractor.pages())

    assert len(set(ids)) == 3000
    assert len(sleeps.calls) == 1


def test_persistent_500_raises_a_clear_error_without_the_token(extractor, fake_socrata, sleeps, caplog):
    fake_socrata.fail(500, times=100, when=FakeSocrata.at_offset(1500))

    with caplog.at_level(logging.DEBUG, logger="pipeline.extract.socrata"):
        with pytest.raises(SocrataError) as info:
            list(extractor.pages())

    err = info.value
    message = str(err)
    assert "4mse-ku6q" in message and "offset 1500" in message and "HTTP 500" in message
    assert "after 4 attempt(s)" in message
    assert (err.dataset, err.offset, err.status, err.attempts) == ("4mse-ku6q", 1500, 500, 4)
    assert FAKE_APP_TOKEN not in message and FAKE_APP_TOKEN not in caplog.text
    assert len(sleeps.calls) == 3  # settings: SOCRATA_MAX_RETRIES=3
    assert [r.offset for r in fake_socrata.data_requests()].count(1500) == 4


def test_a_client_error_is_not_retried(extractor, fake_socrata, sleeps):
    fake_socrata.fail(403, times=5)

    with pytest.raises(SocrataError, match="HTTP 403") as info:
        list(extractor.pages())

    assert info.value.attempts == 1 and sleeps.calls == []
    assert len(fake_socrata.data_requests()) == 1


def test_count_is_best_effort(extractor, fake_socrata, sleeps):
    fake_socrata.fail(500, times=100)

    assert extractor.count() is None
    assert len(sleeps.calls) == 2  # count retries at most twice


@pytest.mark.parametrize(
    "header, expected",
    [
        (None, None),
        ("7", 7.0),
        ("0", 0.0),
        ("2.5", 2.5),
        ("-3", 0.0),
        ("soon", None),
        ("Wed, 21 Oct 2015 07:28:30 GMT", 30.0),
    ],
)
def test_retry_after_header_values(header, expected):
    now = lambda: datetime(2015, 10, 21, 7, 28, 0, tzinfo=timezone.utc)  # noqa: E731
    assert parse_retry_after(header, now=now) == expected


# --------------------------------------------------------------------------------------------
# sodapy client: token, http:// domain
# --------------------------------------------------------------------------------------------


def test_the_app_token_goes_in_a_header_never_in_the_url(extractor, fake_socrata):
    page = next(iter(extractor.pages()))

    assert fake_socrata.requests[0].headers.get("X-App-Token") == FAKE_APP_TOKEN
    assert FAKE_APP_TOKEN not in page.url


def test_requests_go_through_the_sodapy_session(extractor, fake_socrata):
    client = extractor.client

    assert isinstance(client, Socrata)
    assert client.uri_prefix == "http://" and client.domain == f"127.0.0.1:{fake_socrata.port}"
    assert client.timeout == 2.0
    assert extractor.resource_url == f"{fake_socrata.url}/resource/4mse-ku6q.json"
    assert fake_socrata.requests == []  # building the client made no request
    list(extractor.all_ids())
    assert fake_socrata.requests and all(r.path == "/resource/4mse-ku6q.json" for r in fake_socrata.requests)


def test_no_app_token_still_works_and_leaves_root_logging_alone(fake_socrata, sleeps):
    settings = load_settings({"SOCRATA_DOMAIN": fake_socrata.url, "SOCRATA_PAGE_SIZE": "1000"})
    root = logging.getLogger()
    saved = root.handlers[:]
    root.handlers[:] = []
    try:
        ex = SocrataExtractor(settings, sleep=sleeps)
        ex.client  # noqa: B018 - sodapy warns through the root logger here
        assert root.handlers == []  # no logging.basicConfig() side effect
    finally:
        root.handlers[:] = saved

    assert len(list(ex.pages())) == 3
    assert all("X-App-Token" not in r.headers for r in fake_socrata.requests)


def test_a_custom_client_factory_is_used(socrata_settings, fake_socrata, sleeps):
    built = []

    def factory(settings):
        built.append(settings)
        return make_client(settings)

    ex = SocrataExtractor(socrata_settings, sleep=sleeps, client_factory=factory)
    assert ex.count() == 3000
    assert built == [socrata_settings]


@pytest.mark.parametrize(
    "domain, expected",
    [
        ("data.montgomerycountymd.gov", ("https", "data.montgomerycountymd.gov")),
        ("https://data.montgomerycountymd.gov/", ("https", "data.montgomerycountymd.gov")),
        ("http://127.0.0.1:8765", ("http", "127.0.0.1:8765")),
        ("HTTP://localhost:9000/", ("http", "localhost:9000")),
    ],
)
def test_domain_forms(domain, expected):
    assert parse_domain(domain) == expected


@pytest.mark.parametrize("domain", ["", "ftp://x.org", "https://x.org/resource/abc", "user:pw@host"])
def test_bad_domains_are_rejected(domain):
    with pytest.raises(ValueError):
        parse_domain(domain)


def test_a_bare_host_builds_an_https_sodapy_client():
    client = make_client(load_settings({"SOCRATA_APP_TOKEN": "tok", "SOCRATA_TIMEOUT": "45"}))

    assert (client.uri_prefix, client.domain, client.timeout) == ("https://", "data.montgomerycountymd.gov", 45.0)
    assert client.session.headers["X-App-token"] == "tok"


# --------------------------------------------------------------------------------------------
# rows_to_table
# --------------------------------------------------------------------------------------------


@pytest.fixture
def fixture_rows() -> list[dict]:
    return json.loads(FIXTURE_PAGE.read_bytes())


def test_rows_to_table_maps_api_fields_to_canonical_string_columns(fixture_rows):
    table, unknown = rows_to_table(fixture_rows)

    assert table.column_names == ["row_id", "source_updated_at", "raw_line"] + CANONICAL
    assert table.num_rows == len(fixture_rows) == 20
    assert all(table.schema.field(c).type == pa.string() for c in table.column_names if c != "raw_line")
    assert table.schema.field("raw_line").type == pa.int64()
    first = table.slice(0, 1).to_pylist()[0]
    row = fixture_rows[0]
    assert first["row_id"] == row[":id"] and first["source_updated_at"] == row[":updated_at"]
    assert first["raw_line"] == 1
    assert first["seq_id"] == row["seqid"]
    assert first["vehicle_type"] == row["vehicletype"]
    assert first["vehicle_year"] == row["year"]
    assert first["date_of_stop"] == row["date_of_stop"] == "2019-06-04T00:00:00.000"
    assert first["contributed_to_accident"] == "false"  # a JSON boolean in the API
    assert first["search_conducted"] is None  # not in this (2019) layout: all null
    assert table.column("raw_line").to_pylist() == list(range(1, 21))
    # Computed-region columns and geolocation are known extras, not unknown fields.
    assert unknown == []


def test_rows_to_table_reports_unknown_fields_and_keeps_going(fixture_rows):
    rows = [dict(r) for r in fixture_rows]
    rows[3]["search_vehicle_towed"] = "Yes"

    table, unknown = rows_to_table(rows)

    assert unknown == ["search_vehicle_towed"]
    assert "search_vehicle_towed" not in table.column_names


def test_a_null_in_one_row_is_not_a_dropped_field(fixture_rows):
    rows = [dict(r) for r in fixture_rows]
    del rows[0]["race"]  # SODA leaves out null values

    table, _ = rows_to_table(rows)

    assert table.column("race").to_pylist()[0] is None
    assert table.column("race").to_pylist()[1] == rows[1]["race"]


@pytest.mark.parametrize("field", REQUIRED_SOURCE_COLUMNS)
def test_a_required_field_missing_from_every_row_raises_naming_it(fixture_rows, field):
    rows = [{k: v for k, v in r.items() if k != field} for r in fixture_rows]

    with pytest.raises(SchemaError, match=f"'{field}'"):
        rows_to_table(rows)


def test_a_field_listed_in_the_response_header_is_present_even_if_all_null(fixture_rows):
    rows = [{k: v for k, v in r.items() if k != "gender"} for r in fixture_rows[:2]]
    header_fields = list(fixture_rows[0].keys())

    table, _ = rows_to_table(rows, fields=header_fields)

    assert table.column("gender").to_pylist() == [None, None]


def test_an_empty_page_gives_an_empty_table():
    table, unknown = rows_to_table([])

    assert table.num_rows == 0 and unknown == []
    assert table.column_names == ["row_id", "source_updated_at", "raw_line"] + CANONICAL


@pytest.mark.parametrize(
    "geolocation, expected",
    [
        ({"latitude": "39.13193", "longitude": "-77.1602183333333", "human_address": "{}"}, ("39.13193", "-77.1602183333333")),
        ({"type": "Point", "coordinates": [-77.1602183333333, 39.13193]}, ("39.13193", "-77.1602183333333")),
        ("POINT (-77.16 39.13)", ("39.13", "-77.16")),
        ({"human_address": "{}"}, (None, None)),
        ("(39.1, -77.1)", (None, None)),
    ],
)
def test_coordinates_from_geolocation_shapes(geolocation, expected):
    assert coordinates_from_geolocation(geolocation) == expected


@pytest.mark.parametrize(
    "geolocation",
    [
        {"latitude": "39.13193", "longitude": "-77.1602183333333", "human_address": "{}"},
        {"type": "Point", "coordinates": [-77.1602183333333, 39.13193]},
    ],
    ids=["location-object", "geojson-point"],
)
def test_missing_latitude_and_longitude_are_filled_from_geolocation(fixture_rows, geolocation):
    rows = [dict(r) for r in fixture_rows[:3]]
    for key in ("latitude", "longitude"):
        rows[1].pop(key)
    rows[1]["geolocation"] = geolocation

    table, _ = rows_to_table(rows)

    assert table.column("latitude").to_pylist()[1] == "39.13193"
    assert table.column("longitude").to_pylist()[1] == "-77.1602183333333"
    assert table.column("latitude").to_pylist()[0] == fixture_rows[0]["latitude"]  # present values win


def test_a_page_without_row_ids_is_refused(fixture_rows):
    rows = [{k: v for k, v in r.items() if not k.startswith(":")} for r in fixture_rows]

    with pytest.raises(SchemaError, match=":id"):
        rows_to_table(rows)


def test_every_page_from_the_fake_converts(extractor):
    total = 0
    for page in extractor.pages():
        table, unknown = rows_to_table(page.rows, page.fields)
        total += table.num_rows
        assert table.column("row_id").null_count == 0
        assert table.column("source_updated_at").null_count == 0
        assert unknown == []
    assert total == 3000


# --------------------------------------------------------------------------------------------
# The converter behind the fake
# --------------------------------------------------------------------------------------------


def test_export_rows_convert_to_api_shape():
    rows = export_rows_to_api_rows(find_sample("mcpd_tv_sample_nikolausn_2016"), limit=5)

    assert len(rows) == 5
    first = rows[0]
    assert first["date_of_stop"] == "2014-09-30T00:00:00.000"  # 09/30/2014 in the export
    assert first["time_of_stop"] == "23:51:00"
    assert "latitude" not in first and "geolocation" not in first  # empty in the export: omitted
    assert first[":id"].startswith("row-") and first[":updated_at"].endswith("Z")
    assert all(isinstance(v, str) for k, v in first.items() if k != "geolocation")
    with_geo = next(r for r in rows if "geolocation" in r)
    assert with_geo["geolocation"]["latitude"].startswith("39.") and "human_address" in with_geo["geolocation"]


def test_the_converter_reads_plain_and_gzipped_csv(tmp_path: Path):
    gz = find_sample("mcpd_tv_sample_nerox_2019")
    if gz.suffix != ".gz":
        pytest.skip("no gzipped sample bundled")
    import gzip

    plain = tmp_path / "mcpd_tv_sample_nerox_2019.csv"
    plain.write_bytes(gzip.decompress(gz.read_bytes()))

    assert export_rows_to_api_rows(plain, limit=50) == export_rows_to_api_rows(gz, limit=50)
    assert "" not in export_rows_to_api_rows(plain, limit=1)[0]  # the unnamed index column is dropped


def test_the_fixture_page_matches_the_converter(fixture_rows):
    regenerated = sorted(export_rows_to_api_rows(find_sample("mcpd_tv_sample_nerox_2019"), limit=20), key=lambda r: r[":id"])
    assert fixture_rows == regenerated
    assert socrata_stamp(parse_stamp(fixture_rows[0][":updated_at"])) == fixture_rows[0][":updated_at"]
