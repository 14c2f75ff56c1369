"""English/Spanish for every visible string, and numbers and dates per locale.

* Strings go through :func:`_` (and :func:`ngettext`); strings defined at import time are marked
  with :func:`N_` and translated where they are shown. Babel extracts them (``babel.cfg``) into
  ``dashboard/locales/messages.pot``; ``dashboard/locales/es/LC_MESSAGES/messages.po`` holds the
  Spanish. The ``.po`` file is compiled in memory on first use, so no binary ``.mo`` file is
  committed and ``bash run.sh`` needs no build step.
* The language is a context variable that the router sets once per run from ``?lang=es`` (pure
  chart builders read it too, without importing Streamlit).
* Numbers and dates are formatted with Babel for the current language (``12.345`` and
  ``3 mar 2016`` in Spanish).
"""

from __future__ import annotations

import gettext
import math
import re
from contextvars import ContextVar
from datetime import date, datetime, timezone
from functools import lru_cache
from io import BytesIO
from pathlib import Path
from typing import Any

from babel.dates import format_date, format_time
from babel.numbers import format_decimal, format_percent

LANGS: dict[str, str] = {"en": "English", "es": "Español"}
DEFAULT = "en"
LOCALE_DIR = Path(__file__).resolve().parent / "locales"
DOMAIN = "messages"
BLANK = "–"

_lang: ContextVar[str] = ContextVar("dashboard_lang", default=DEFAULT)


def N_(message: str) -> str:
    """Mark a string for extraction without translating it (translated later with :func:`_`)."""
    return message


def po_path(lang: str) -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


@lru_cache(maxsize=4)
def catalogue(lang: str) -> gettext.NullTranslations:
    """The compiled catalogue of ``lang`` (English is the source language: no catalogue)."""
    if lang == DEFAULT:
        return gettext.NullTranslations()
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with open(po_path(lang), "rb") as fh:
        cat = read_po(fh, locale=lang)
    buf = BytesIO()
    write_mo(buf, cat, use_fuzzy=False)  # a fuzzy (unchecked) translation falls back to English
    buf.seek(0)
    return gettext.GNUTranslations(buf)


# The session state key of the reader's language (the router's language control). A fragment's rerun
# runs without the router, in a new thread: it sets the language from here again (set_lang).
K_LANG = "ui_lang"


def set_lang(lang: str | None) -> str:
    """Use ``lang`` for this run (unknown values mean English); returns the language in effect."""
    value = lang if lang in LANGS else DEFAULT
    _lang.set(value)
    return value


def lang() -> str:
    return _lang.get()


def _(message: str) -> str:
    return catalogue(lang()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return catalogue(lang()).ngettext(singular, plural, n)


# ------------------------------------------------------------------------------------------------
# Numbers and dates
# ------------------------------------------------------------------------------------------------


def _missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return math.isnan(float(value))
    except (TypeError, ValueError):
        return True


def fmt_int(value: Any) -> str:
    """12,345 (English) / 12.345 (Spanish); a dash when there is no value."""
    if _missing(value):
        return BLANK
    return _int_text(int(round(float(value))), lang())


# Babel parses its pattern on every call (~0.2 ms): a chart's hover texts and a table's cells format
# thousands of the same numbers and dates on every rerun, so each text is made once per process.
@lru_cache(maxsize=1 << 16)
def _int_text(n: int, locale: str) -> str:
    return format_decimal(n, format="#,##0", locale=locale)


@lru_cache(maxsize=1 << 15)
def _date_text(d: date, pattern: str, locale: str) -> str:
    return format_date(d, pattern, locale=locale)


def fmt_num(value: Any, digits: int = 1) -> str:
    if _missing(value):
        return BLANK
    pattern = "#,##0." + "0" * digits if digits else "#,##0"
    return format_decimal(float(value), format=pattern, locale=lang())


def fmt_pct(value: Any, digits: int = 1) -> str:
    """A share (0.123) as a percentage: 12.3% / 12,3 %."""
    if _missing(value):
        return BLANK
    from babel import Locale

    # The locale's own pattern ("#,##0%" in English, "#,##0 %" in Spanish) with ``digits`` decimals.
    pattern = Locale.parse(lang()).percent_formats[None].pattern
    if digits:
        pattern = re.sub(r"0(?!.*0)", "0." + "0" * digits, pattern)
    return format_percent(float(value), format=pattern, locale=lang())


def fmt_signed_pct(value: Any) -> str:
    """+12% / −5% (a change)."""
    if _missing(value):
        return BLANK
    v = float(value)
    return ("+" if v >= 0 else "−") + fmt_pct(abs(v), 0)


def fmt_date(value: date | datetime | None) -> str:
    """3 Mar 2016 / 3 mar 2016: the one date style of each language, on every page, table and chart."""
    if value is None or (not isinstance(value, date) and _missing(value)):
        return BLANK
    if hasattr(value, "to_pydatetime"):  # a pandas Timestamp
        value = value.to_pydatetime()
    d = value.date() if isinstance(value, datetime) else value
    return _date_text(d, "d MMM y", lang())


# Times are shown in the county's own time (stored times are UTC, naive or aware).
LOCAL_TZ = "America/New_York"


def local_time(value: datetime) -> datetime:
    """A stored UTC time (naive = UTC) in the county's time zone."""
    from zoneinfo import ZoneInfo

    aware = value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)
    return aware.astimezone(ZoneInfo(LOCAL_TZ))


def fmt_datetime(value: date | datetime | None) -> str:
    """A stored UTC time as the county reads it: 7 Dec 2026, 8:56 AM EST / 7 dic 2026, 8:56 EST."""
    if value is None or (not isinstance(value, date) and _missing(value)):
        return BLANK
    if hasattr(value, "to_pydatetime"):  # a pandas Timestamp
        value = value.to_pydatetime()
    if not isinstance(value, datetime):
        return fmt_date(value)
    local = local_time(value)
    return "{date}, {time} {zone}".format(date=fmt_date(local.date()),
                                          time=format_time(local, "short", locale=lang()), zone=local.strftime("%Z"))


def days_since(value: datetime | None, now: datetime | None = None) -> int | None:
    """Calendar days from a stored UTC time to ``now`` (default: this moment), in the county's time zone."""
    if value is None:
        return None
    now = now or datetime.now(timezone.utc)
    return max((local_time(now).date() - local_time(value).date()).days, 0)


def fmt_ago(days: int | None) -> str:
    """Calendar days ago (:func:`days_since`): 'today' / 'yesterday' / '3 days ago' (never '0.0 days ago')."""
    if days is None:
        return _("never")
    n = int(days)
    if n == 0:
        return _("today")
    if n == 1:
        return _("yesterday")
    return ngettext("{n} day ago", "{n} days ago", n).format(n=fmt_int(n))


def fmt_long_date(value: date) -> str:
    """3 March 2016 / 3 de marzo de 2016."""
    return format_date(value, "long", locale=lang())


def fmt_month(value: date) -> str:
    """Mar 2016 / mar 2016."""
    if isinstance(value, datetime) or hasattr(value, "to_pydatetime"):
        value = (value.to_pydatetime() if hasattr(value, "to_pydatetime") else value).date()
    return _date_text(value, "MMM y", lang())


def month_names(width: str = "abbreviated") -> list[str]:
    from babel.dates import get_month_names

    names = get_month_names(width, context="stand-alone", locale=lang())
    return [str(names[i]) for i in range(1, 13)]


def weekday_names(width: str = "abbreviated") -> list[str]:
    """Monday first."""
    from babel.dates import get_day_names

    names = get_day_names(width, context="stand-alone", locale=lang())
    return [str(names[i]) for i in range(7)]


def plotly_separators() -> str:
    """Plotly's ``layout.separators`` (decimal mark, then thousands mark) for the current language."""
    return ",." if lang() == "es" else ".,"
