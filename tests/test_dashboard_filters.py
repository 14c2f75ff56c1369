"""Filter state <-> URL query parameters: pure functions, no Streamlit."""

from __future__ import annotations

from datetime import date

import pytest

from dashboard import i18n
from dashboard.filters import (
    ECHO_ITEMS,
    ECHO_MAX,
    FilterState,
    describe,
    normalise,
    parse_query_params,
    period_text,
    to_query_params,
)
from dashboard.labels import DISTRICTS, district_short

BOUNDS = (date(2012, 1, 1), date(2025, 1, 3))
ZIPS = {"20902", "20906", "20910"}


@pytest.mark.parametrize(
    "state",
    [
        FilterState(),
        FilterState(races=("BLACK", "HISPANIC")),
        FilterState(genders=("F",), zips=("20902", "20910")),
        FilterState(outcomes=("Citation", "SERO"), districts=(DISTRICTS["3"], DISTRICTS["hq"])),
        FilterState(date_from=date(2016, 1, 1), date_to=date(2016, 12, 31)),
        FilterState(races=("NATIVE AMERICAN",), districts=(DISTRICTS["6"],), date_to=date(2015, 6, 30)),
    ],
)
def test_a_state_survives_the_round_trip_through_the_url(state):
    params = to_query_params(state)
    parsed = parse_query_params(params, valid_zips=ZIPS, bounds=BOUNDS)
    assert parsed.notices == []
    assert parsed.state == state


def test_the_url_uses_short_readable_codes_and_omits_defaults():
    state = FilterState(races=("BLACK", "WHITE"), districts=(DISTRICTS["4"],), zips=("20902",))
    assert to_query_params(state) == {"race": "white,black", "zip": "20902", "district": "4"}
    assert to_query_params(FilterState()) == {}


def test_repeated_keys_full_values_and_any_case_are_accepted():
    parsed = parse_query_params(
        {"race": ["Black", "HISPANIC,white"], "gender": "f", "outcome": ["CITATION"],
         "district": "4th District, Wheaton"},
        valid_zips=ZIPS, bounds=BOUNDS,
    )
    assert parsed.notices == []
    assert parsed.state.races == ("WHITE", "BLACK", "HISPANIC")
    assert parsed.state.genders == ("F",)
    assert parsed.state.outcomes == ("Citation",)
    assert parsed.state.districts == (DISTRICTS["4"],)


@pytest.mark.parametrize(
    "params, field, expected, notice_word",
    [
        ({"race": "martian,black"}, "races", ("BLACK",), "race"),
        ({"gender": "x"}, "genders", (), "gender"),
        ({"zip": "20902,99999,abc"}, "zips", ("20902",), "ZIP"),
        ({"zip": "2090"}, "zips", (), "ZIP"),
        ({"outcome": "jail"}, "outcomes", (), "outcome"),
        ({"district": "9"}, "districts", (), "district"),
        ({"from": "2016-13-01"}, "date_from", None, "from"),
        ({"to": "yesterday"}, "date_to", None, "to"),
    ],
)
def test_invalid_values_are_dropped_with_a_notice(params, field, expected, notice_word):
    parsed = parse_query_params(params, valid_zips=ZIPS, bounds=BOUNDS)
    assert getattr(parsed.state, field) == expected
    assert len(parsed.notices) == 1 and notice_word in parsed.notices[0]


def test_dates_outside_the_data_are_clamped_and_reversed_ranges_ignored():
    clamped = parse_query_params({"from": "2000-01-01", "to": "2016-06-30"}, bounds=BOUNDS)
    assert clamped.state.date_from is None  # clamped to the first day = no restriction
    assert clamped.state.date_to == date(2016, 6, 30)
    assert len(clamped.notices) == 1
    reversed_ = parse_query_params({"from": "2016-06-30", "to": "2016-01-01"}, bounds=BOUNDS)
    assert (reversed_.state.date_from, reversed_.state.date_to) == (None, None)
    assert "reversed" in reversed_.notices[0]


def test_parsing_never_raises_on_garbage():
    parsed = parse_query_params({"race": ["", ",,,"], "zip": [""], "from": "", "junk": "1"}, bounds=BOUNDS)
    assert parsed.state == FilterState()
    assert parsed.notices == []


def test_dates_at_the_data_bounds_mean_no_restriction():
    state = FilterState(date_from=BOUNDS[0], date_to=BOUNDS[1])
    assert normalise(state, BOUNDS) == FilterState()


def test_without_clears_only_the_named_filters():
    state = FilterState(races=("BLACK",), zips=("20902",), date_from=date(2016, 1, 1))
    assert state.without("races") == FilterState(zips=("20902",), date_from=date(2016, 1, 1))


def test_descriptions_read_as_plain_language():
    state = FilterState(races=("BLACK",), genders=("F",), zips=("20902",), outcomes=("Citation",),
                        date_from=date(2016, 1, 1), date_to=date(2016, 12, 31))
    assert describe(state) == "driver race: Black; driver gender: Female; ZIP 20902; stops ending in: Citation; in 2016"
    assert describe(FilterState(), BOUNDS) == "all drivers; from 1 Jan 2012 to 3 Jan 2025"
    assert period_text(date(2016, 3, 1), date(2016, 4, 30)) == "from 1 Mar 2016 to 30 Apr 2016"
    assert district_short(DISTRICTS["6"]) == "District 6, Gaithersburg / Montgomery Village"
    assert district_short(None) == "(unknown)"


def test_descriptions_in_spanish():
    state = FilterState(races=("BLACK",), zips=("20902", "20906"), date_from=date(2016, 3, 1), date_to=date(2016, 4, 30))
    i18n.set_lang("es")
    try:
        assert describe(state) == "raza del conductor: negra; códigos postales 20902, 20906; del 1 mar 2016 al 30 abr 2016"
        # each label agrees with its own noun ("raza ... negra", "sexo ... mujer"), never "conductores: Negra, Mujer"
        both = FilterState(races=("BLACK", "HISPANIC"), genders=("F",))
        assert describe(both) == "raza del conductor: negra, hispana; sexo del conductor: mujer"
        assert district_short(DISTRICTS["4"]) == "Distrito 4, Wheaton"
    finally:
        i18n.set_lang("en")


@pytest.mark.parametrize("value", [
    "[Click here](http://evil.example/phish)",
    "![x](http://evil.example/pixel.png)",
    "<script>alert(1)</script>",
    ":red[official notice] :material/warning:",
    "x" * 60_000,
])
def test_values_from_a_link_are_echoed_short(value):
    parsed = parse_query_params({"race": value}, bounds=BOUNDS)
    assert len(parsed.notices) == 1
    notice = parsed.notices[0]
    assert len(notice) < 200  # a 60k-character link gives a short notice
    assert value[: ECHO_MAX - 1] in notice


def test_many_bad_values_are_summarised():
    parsed = parse_query_params({"zip": ",".join(f"9{i:04d}" for i in range(50))}, valid_zips=ZIPS, bounds=BOUNDS)
    assert parsed.notices[0].count("'9") == ECHO_ITEMS and "and 45 more" in parsed.notices[0]
