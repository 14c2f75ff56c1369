"""Sidebar filters shared by every page, kept in session state and mirrored in the URL.

Two layers:

* pure functions (no Streamlit): :class:`FilterState`, :func:`parse_query_params` (URL -> state plus
  plain-language notices for values that were ignored) and :func:`to_query_params` (state -> URL);
* :func:`sidebar`, which the router calls once per run: on a session's first run it seeds the
  widgets from ``st.query_params``, draws them, and writes the resulting state back to the URL so a
  copied link reproduces the view.

URL format (short codes, comma-separated, only non-default values)::

    ?race=black,hispanic&gender=f&zip=20902,20906&from=2016-01-01&to=2016-12-31
     &outcome=citation&district=3,4

District names contain commas, so districts travel as their number (``1``-``6``) or ``hq``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any, Collection, Iterable, Mapping, Sequence

from .i18n import _, fmt_date, ngettext
from .i18n import lang as current_lang
from .labels import DISTRICTS, GENDERS, OUTCOMES, RACES, district_short, gender, outcome_short, race

# A value from a link is echoed back at most this long (a shared link may carry anything).
ECHO_MAX = 40
ECHO_ITEMS = 5

URL_KEYS = ("race", "gender", "zip", "from", "to", "outcome", "district")
_ZIP = re.compile(r"^\d{5}$")

# Session-state keys of the sidebar widgets.
K_RACE, K_GENDER, K_ZIP, K_FROM, K_TO, K_OUTCOME, K_DISTRICT = (
    "flt_race", "flt_gender", "flt_zip", "flt_from", "flt_to", "flt_outcome", "flt_district",
)
K_INIT, K_NOTICES, K_BOUNDS, K_STATE, K_LANG = "flt_init", "flt_notices", "flt_bounds", "flt_state", "flt_lang"
K_PENDING, K_NOTICE_STATE = "flt_pending", "flt_notice_state"


@dataclass(frozen=True)
class FilterState:
    """What the resident asked to see. Empty tuples and ``None`` dates mean "no restriction"."""

    races: tuple[str, ...] = ()
    genders: tuple[str, ...] = ()
    zips: tuple[str, ...] = ()
    outcomes: tuple[str, ...] = ()
    districts: tuple[str, ...] = ()
    date_from: date | None = None
    date_to: date | None = None

    def without(self, *names: str) -> "FilterState":
        """A copy with the named filters cleared (e.g. ``without("races")`` for race shares)."""
        blank = FilterState()
        return replace(self, **{n: getattr(blank, n) for n in names})

    @property
    def is_default(self) -> bool:
        return self == FilterState()

    def cache_key(self) -> tuple[Any, ...]:
        return (self.races, self.genders, self.zips, self.outcomes, self.districts,
                self.date_from, self.date_to)


@dataclass
class ParseResult:
    state: FilterState
    notices: list[str] = field(default_factory=list)


def _ordered(values: Iterable[str], order: Sequence[str]) -> tuple[str, ...]:
    """De-duplicate and sort in the display order (so equal selections give equal states/URLs)."""
    chosen = set(values)
    return tuple(v for v in order if v in chosen)


def _split(raw: str | Sequence[str] | None) -> list[str]:
    """``"a,b"`` / ``["a", "b,c"]`` -> ``["a", "b", "c"]`` (blank items dropped)."""
    if raw is None:
        return []
    items = [raw] if isinstance(raw, str) else list(raw)
    return [part.strip() for item in items for part in str(item).split(",") if part.strip()]


def _parse_codes(
    name: str, raw: str | Sequence[str] | None, codes: Mapping[str, str], notices: list[str]
) -> tuple[str, ...]:
    by_code = {k.lower(): v for k, v in codes.items()}
    by_value = {v.lower(): v for v in codes.values()}
    found: list[str] = []
    bad: list[str] = []
    items = [] if raw is None else ([raw] if isinstance(raw, str) else list(raw))
    whole = [str(i).strip() for i in items]
    # A full value may itself contain commas ("4th District, Wheaton"): try each item whole first.
    rest = [i for i in whole if i.lower() not in by_value]
    found.extend(by_value[i.lower()] for i in whole if i.lower() in by_value)
    for item in _split(rest):
        key = item.lower()
        value = by_code.get(key) or by_value.get(key)
        if value is None:
            bad.append(item)
        else:
            found.append(value)
    if bad:
        notices.append(_("Ignored unknown {name} value(s) in the link: {values}.").format(name=name, values=echo(bad)))
    return _ordered(found, list(codes.values()))


def _parse_date(name: str, raw: str | Sequence[str] | None, notices: list[str]) -> date | None:
    items = _split(raw)
    if not items:
        return None
    text = items[-1]
    try:
        return date.fromisoformat(text)
    except ValueError:
        notices.append(_("Ignored the '{name}' date in the link ({value} is not a YYYY-MM-DD date).")
                       .format(name=name, value=echo([text])))
        return None


def parse_query_params(
    params: Mapping[str, str | Sequence[str]],
    *,
    valid_zips: Collection[str] | None = None,
    bounds: tuple[date, date] | None = None,
) -> ParseResult:
    """Read filter values from URL query parameters; never raises on bad input.

    Unknown codes, malformed ZIPs/dates, ZIPs outside ``valid_zips`` and inverted ranges are dropped
    and described in ``notices``. Dates outside ``bounds`` (the data's first and last stop) are
    clamped to them, with a notice.
    """
    notices: list[str] = []
    races = _parse_codes(_("race"), params.get("race"), RACES, notices)
    genders = _parse_codes(_("gender"), params.get("gender"), GENDERS, notices)
    outcomes = _parse_codes(_("outcome"), params.get("outcome"), OUTCOMES, notices)
    districts = _parse_codes(_("district"), params.get("district"), DISTRICTS, notices)

    zips: list[str] = []
    bad_zips: list[str] = []
    for item in _split(params.get("zip")):
        if _ZIP.match(item) and (valid_zips is None or item in valid_zips):
            zips.append(item)
        else:
            bad_zips.append(item)
    if bad_zips:
        notices.append(_("Ignored ZIP code(s) in the link that are not Montgomery County ZIP codes: {values}.")
                       .format(values=echo(bad_zips)))

    date_from = _parse_date("from", params.get("from"), notices)
    date_to = _parse_date("to", params.get("to"), notices)
    if bounds is not None:
        lo, hi = bounds
        if date_from is not None and not lo <= date_from <= hi:
            notices.append(_("The 'from' date {d} is outside the data ({lo} to {hi}); using {used}.").format(
                d=fmt_date(date_from), lo=fmt_date(lo), hi=fmt_date(hi), used=fmt_date(lo if date_from < lo else hi)))
            date_from = lo if date_from < lo else hi
        if date_to is not None and not lo <= date_to <= hi:
            notices.append(_("The 'to' date {d} is outside the data ({lo} to {hi}); using {used}.").format(
                d=fmt_date(date_to), lo=fmt_date(lo), hi=fmt_date(hi), used=fmt_date(hi if date_to > hi else lo)))
            date_to = hi if date_to > hi else lo
    if date_from is not None and date_to is not None and date_from > date_to:
        notices.append(_("The link's date range was reversed ({a} after {b}); ignored it.").format(
            a=fmt_date(date_from), b=fmt_date(date_to)))
        date_from = date_to = None

    state = FilterState(
        races=races,
        genders=genders,
        zips=tuple(sorted(set(zips))),
        outcomes=outcomes,
        districts=districts,
        date_from=date_from,
        date_to=date_to,
    )
    return ParseResult(normalise(state, bounds), notices)


def normalise(state: FilterState, bounds: tuple[date, date] | None) -> FilterState:
    """Dates equal to the data's bounds mean "no restriction" (keeps links short and open-ended)."""
    if bounds is None:
        return state
    lo, hi = bounds
    return replace(
        state,
        date_from=None if state.date_from is not None and state.date_from <= lo else state.date_from,
        date_to=None if state.date_to is not None and state.date_to >= hi else state.date_to,
    )


def _codes_for(values: Iterable[str], codes: Mapping[str, str]) -> str:
    inverse = {v: k for k, v in codes.items()}
    return ",".join(inverse[v] for v in _ordered(values, list(codes.values())))


def to_query_params(state: FilterState) -> dict[str, str]:
    """The URL query parameters for ``state`` (only the filters that restrict something)."""
    out: dict[str, str] = {}
    if state.races:
        out["race"] = _codes_for(state.races, RACES)
    if state.genders:
        out["gender"] = _codes_for(state.genders, GENDERS)
    if state.zips:
        out["zip"] = ",".join(state.zips)
    if state.date_from is not None:
        out["from"] = state.date_from.isoformat()
    if state.date_to is not None:
        out["to"] = state.date_to.isoformat()
    if state.outcomes:
        out["outcome"] = _codes_for(state.outcomes, OUTCOMES)
    if state.districts:
        out["district"] = _codes_for(state.districts, DISTRICTS)
    return out


def echo(values: Sequence[str]) -> str:
    """Values from a link as a short quoted list: at most ECHO_ITEMS values of ECHO_MAX characters."""
    shown = []
    for v in list(values)[:ECHO_ITEMS]:
        v = " ".join(str(v).split())  # no line breaks from a link
        shown.append("'" + (v if len(v) <= ECHO_MAX else v[: ECHO_MAX - 1] + "…") + "'")
    more = len(values) - ECHO_ITEMS
    return ", ".join(shown) + (" " + _("and {n} more").format(n=more) if more > 0 else "")


def area_text(zips: Sequence[str]) -> str:
    """'Montgomery County' / 'ZIP 20902' / 'ZIP codes 20902, 20906'."""
    if not zips:
        return _("Montgomery County")
    return ngettext("ZIP {zips}", "ZIP codes {zips}", len(zips)).format(zips=", ".join(zips))


def describe(state: FilterState, bounds: tuple[date, date] | None = None) -> str:
    """Plain-language description of the filters, e.g. 'Black, Hispanic drivers; ZIP 20902; ...'."""
    parts: list[str] = []
    # Race and gender each after their own noun, so that the labels agree with it in every language
    # ("raza: negra; sexo: mujer", never "conductores: Negra, Mujer").
    if state.races:
        parts.append(_("driver race: {races}").format(races=", ".join(_in_sentence(race(r)) for r in state.races)))
    if state.genders:
        parts.append(_("driver gender: {genders}").format(
            genders=", ".join(_in_sentence(gender(g)) for g in state.genders)))
    if not state.races and not state.genders:
        parts.append(_("all drivers"))
    if state.zips:
        parts.append(area_text(state.zips))
    if state.districts:
        parts.append(", ".join(district_short(d) for d in state.districts))
    if state.outcomes:
        parts.append(_("stops ending in: {what}").format(what=", ".join(outcome_short(o) for o in state.outcomes)))
    parts.append(period_text(state.date_from, state.date_to, bounds))
    return "; ".join(p for p in parts if p)


def _in_sentence(label: str) -> str:
    """A label inside a sentence: Spanish writes race and gender words in lower case ("negra", "mujer")."""
    return label[:1].lower() + label[1:] if current_lang() == "es" else label


def period_text(date_from: date | None, date_to: date | None, bounds: tuple[date, date] | None = None) -> str:
    """'in 2016' for a whole calendar year, otherwise 'from 3 Mar 2016 to 4 Dec 2016'."""
    lo = date_from or (bounds[0] if bounds else None)
    hi = date_to or (bounds[1] if bounds else None)
    if lo is None or hi is None:
        return ""
    if lo.year == hi.year and (lo.month, lo.day) == (1, 1) and (hi.month, hi.day) == (12, 31):
        return _("in {year}").format(year=lo.year)
    return _("from {start} to {end}").format(start=fmt_date(lo), end=fmt_date(hi))


# --------------------------------------------------------------------------------------------
# Streamlit glue (the router calls sidebar() once per run)
# --------------------------------------------------------------------------------------------


def _widget_values_from(state: FilterState, bounds: tuple[date, date]) -> dict[str, Any]:
    return {
        K_RACE: list(state.races),
        K_GENDER: list(state.genders),
        K_ZIP: list(state.zips),
        K_OUTCOME: list(state.outcomes),
        K_DISTRICT: list(state.districts),
        K_FROM: state.date_from or bounds[0],
        K_TO: state.date_to or bounds[1],
    }


def _reset() -> None:
    import streamlit as st

    bounds = st.session_state[K_BOUNDS]
    for key, value in _widget_values_from(FilterState(), bounds).items():
        st.session_state[key] = value


def set_zips(zips: Sequence[str]) -> None:
    """Set the ZIP filter from a page (call it from a widget callback, before the sidebar draws)."""
    import streamlit as st

    st.session_state[K_ZIP] = sorted(set(zips))


def current() -> FilterState:
    """The filter state the router computed for this run (pages call this first)."""
    import streamlit as st

    return st.session_state.get(K_STATE, FilterState())


def bounds() -> tuple[date, date] | None:
    import streamlit as st

    return st.session_state.get(K_BOUNDS)


def _read_url() -> dict[str, list[str]]:
    import streamlit as st

    return {k: st.query_params.get_all(k) for k in st.query_params.keys()}


def _write_url(state: FilterState, lang: str) -> None:
    import streamlit as st

    wanted = to_query_params(state)
    if lang != "en":
        wanted["lang"] = lang
    for key in (*URL_KEYS, "lang"):
        have = st.query_params.get(key)
        if key in wanted:
            if have != wanted[key]:
                st.query_params[key] = wanted[key]
        elif key in st.query_params:
            del st.query_params[key]


def request_zips(zips: Sequence[str], notice: str) -> None:
    """From a page, after the sidebar has drawn: set the ZIP filter and rerun (a widget's value can't be
    changed once it is drawn, so the next run's sidebar applies it before drawing), with a notice."""
    import streamlit as st

    st.session_state[K_PENDING] = (sorted(set(zips)), notice)
    st.rerun()


def settle(valid_zips: Sequence[str], data_bounds: tuple[date, date]) -> FilterState:
    """The current :class:`FilterState`, from the widgets' session state (seeded from the link on a
    session's first run), without drawing anything: a page can be drawn before the filters' widgets
    (:func:`draw`), so that its own elements' JavaScript is fetched first."""
    import streamlit as st

    st.session_state[K_BOUNDS] = data_bounds
    lo, hi = data_bounds
    pending = st.session_state.pop(K_PENDING, None)
    earlier_notices = list(st.session_state.get(K_NOTICES, []))
    fresh = False  # notices issued in this run
    if not st.session_state.get(K_INIT):
        parsed = parse_query_params(_read_url(), valid_zips=set(valid_zips), bounds=data_bounds)
        for key, value in _widget_values_from(parsed.state, data_bounds).items():
            st.session_state[key] = value
        st.session_state[K_NOTICES] = parsed.notices
        st.session_state[K_INIT] = True
        fresh = True
    elif st.session_state.get(K_LANG) != current_lang():
        # Streamlit keeps a multiselect's choice as its displayed label: after a language switch the
        # old labels match no option, so the widgets are re-seeded from the codes of the last state.
        st.session_state[K_NOTICES] = []
        for key, value in _widget_values_from(st.session_state.get(K_STATE, FilterState()), data_bounds).items():
            st.session_state[key] = value
    else:
        # Keep widget values valid if a new load moved the data bounds.
        for key in (K_FROM, K_TO):
            value = st.session_state.get(key)
            if not isinstance(value, date) or not lo <= value <= hi:
                st.session_state[key] = lo if key == K_FROM else hi
        zip_set = set(valid_zips)
        st.session_state[K_ZIP] = [z for z in st.session_state.get(K_ZIP, []) if z in zip_set]
    if pending is not None:
        st.session_state[K_ZIP] = [z for z in pending[0] if z in set(valid_zips)]
        st.session_state[K_NOTICES] = [*earlier_notices, pending[1]]
        fresh = True

    d_from, d_to = st.session_state[K_FROM], st.session_state[K_TO]
    if d_from > d_to:  # the filters' widgets say so (draw)
        d_from, d_to = d_to, d_from
    state = normalise(
        FilterState(
            races=_ordered(st.session_state[K_RACE], list(RACES.values())),
            genders=_ordered(st.session_state[K_GENDER], list(GENDERS.values())),
            zips=tuple(sorted(set(st.session_state[K_ZIP]))),
            outcomes=_ordered(st.session_state[K_OUTCOME], list(OUTCOMES.values())),
            districts=_ordered(st.session_state[K_DISTRICT], list(DISTRICTS.values())),
            date_from=d_from,
            date_to=d_to,
        ),
        data_bounds,
    )
    # A notice about the link stays while the view it describes stays (the rerun that the browser
    # helper's width report causes must not wipe it), and goes once the reader changes a filter.
    if fresh:
        st.session_state[K_NOTICE_STATE] = state
    elif st.session_state.get(K_NOTICE_STATE) != state:
        st.session_state[K_NOTICES] = []
    st.session_state[K_STATE] = state
    st.session_state[K_LANG] = current_lang()
    _write_url(state, current_lang())
    return state


def draw(box: Any, valid_zips: Sequence[str], data_bounds: tuple[date, date], applies: bool = True) -> None:
    """Draw the filters' widgets into ``box`` (a sidebar container) over the values :func:`settle`
    left in the session state.

    ``applies=False`` (a page computed over all stops): the filters are kept (state, address) but not
    shown, and the sidebar says why instead of offering controls that would change nothing.
    """
    import streamlit as st

    lo, hi = data_bounds
    if not applies:
        box.info(_("The filters do not apply to this page: its numbers are computed over all loaded stops. "
                   "They come back, as you left them, on the other pages."), icon=":material/filter_alt_off:")
        # Drawn but hidden: the widgets keep their values (and the address its filters) for the next page.
        st.html("<style>.st-key-sidebar_filters { display: none !important; }</style>")
    sb = box.container(key="sidebar_filters")
    sb.header(_("Filters"))
    sb.caption(_("They apply to every page. The page address updates, so you can share this exact view."))
    # Typed the way each language writes a date by hand (a typed date applies on Enter: dashboard/browser.py).
    typed = "DD/MM/YYYY" if current_lang() == "es" else "MM/DD/YYYY"
    sb.date_input(_("From"), min_value=lo, max_value=hi, key=K_FROM, format=typed)
    sb.date_input(_("To"), min_value=lo, max_value=hi, key=K_TO, format=typed)
    sb.multiselect(_("ZIP code"), options=list(valid_zips), key=K_ZIP, placeholder=_("All ZIP codes"))
    sb.multiselect(_("Police district"), options=list(DISTRICTS.values()), key=K_DISTRICT,
                   format_func=district_short, placeholder=_("All districts"))
    sb.multiselect(_("Driver race (as recorded by the officer)"), options=list(RACES.values()), key=K_RACE,
                   format_func=race, placeholder=_("All"))
    sb.multiselect(_("Driver gender"), options=list(GENDERS.values()), key=K_GENDER,
                   format_func=gender, placeholder=_("All"))
    sb.multiselect(_("Stop outcome (most serious charge)"), options=list(OUTCOMES.values()), key=K_OUTCOME,
                   format_func=outcome_short, placeholder=_("All"),
                   help=_("A stop's outcome is its most serious charge: a citation outranks a repair order (SERO), "
                          "which outranks a warning."))
    sb.button(_("Reset filters"), on_click=_reset, width="stretch", key="flt_reset")
    if st.session_state[K_FROM] > st.session_state[K_TO]:  # settle swapped them
        sb.warning(_("'From' is after 'To'; the dates were swapped."))


def show_notices() -> None:
    """Show what was ignored from the link (first run of a session only)."""
    import streamlit as st

    from .ui import plain

    for notice in st.session_state.get(K_NOTICES, []):
        st.warning(plain(notice), icon=":material/link_off:")
