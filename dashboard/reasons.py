"""Plain-language reasons for a stop: the county's charge descriptions mapped to a dozen categories.

The mapping is data, maintained in the repository:

* ``data/reason_rules.csv`` (``category, pattern``): SQL ``LIKE`` patterns over the lower-cased
  description of a charge. Rules are tried **in file order; the first that matches decides**; a text
  no rule matches (a wording the county adds later, or none recorded) is ``other``.
* ``data/reason_categories.csv`` (``category, en, es``): every category's name in English and Spanish.

:func:`categorise` applies them (:func:`category_of` remembers each text's category): the dashboard's
queries group by the charge's text (the cubes' ``top_description``) and put each distinct text in its
category afterwards (dashboard/queries.py ``_by_reason``). ``tests/test_reason_categories.py`` checks
the rules as SQL ``LIKE`` patterns agree with the Python matcher, that the dashboard's grouping equals
the rules run as a SQL ``case`` over the stops, and that at least 95% of the real samples' charges
land in a category other than ``other``.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterable

from .i18n import lang

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
RULES_FILE = DATA_DIR / "reason_rules.csv"
NAMES_FILE = DATA_DIR / "reason_categories.csv"
OTHER = "other"
# A pattern is a SQL LIKE pattern (tests run it as a literal in SQL), so it may hold only these characters: no quote, no
# backslash (PostgreSQL's default LIKE escape; DuckDB has none), nothing upper-case (it is compared
# with the lower-cased text).
_PATTERN = re.compile(r"[a-z0-9 %_().,*/&-]+")
_CATEGORY = re.compile(r"[a-z_]{1,16}")  # the SQL casts the code to varchar(16)


@dataclass(frozen=True)
class Rule:
    category: str
    pattern: str


@lru_cache(maxsize=1)
def names() -> dict[str, tuple[str, str]]:
    """category -> (English name, Spanish name), in the file's order."""
    with open(NAMES_FILE, encoding="utf-8", newline="") as fh:
        out = {row["category"]: (row["en"], row["es"]) for row in csv.DictReader(fh)}
    bad = [c for c in out if not _CATEGORY.fullmatch(c)]
    if bad or OTHER not in out:
        raise ValueError(f"{NAMES_FILE.name}: bad category codes {bad} or no '{OTHER}'")
    return out


@lru_cache(maxsize=1)
def rules() -> tuple[Rule, ...]:
    """The rules in file order, each checked: a known category, a pattern of the allowed characters."""
    known = names()
    with open(RULES_FILE, encoding="utf-8", newline="") as fh:
        out = tuple(Rule(row["category"], row["pattern"]) for row in csv.DictReader(fh))
    for rule in out:
        if rule.category not in known or rule.category == OTHER:
            raise ValueError(f"{RULES_FILE.name}: unknown category {rule.category!r}")
        if not _PATTERN.fullmatch(rule.pattern):
            raise ValueError(f"{RULES_FILE.name}: pattern {rule.pattern!r} has a character outside [a-z0-9 %_().,*/&-]")
    return out


def _regex(pattern: str) -> re.Pattern[str]:
    """A LIKE pattern as a regular expression: % = any run of characters, _ = one character."""
    parts = (".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in pattern)
    return re.compile("".join(parts), re.DOTALL)


@lru_cache(maxsize=1)
def _compiled() -> tuple[tuple[re.Pattern[str], str], ...]:
    return tuple((_regex(r.pattern), r.category) for r in rules())


def categorise(description: str | None) -> str:
    """The category of one charge description (``other`` when no rule matches or there is none)."""
    if description is None:
        return OTHER
    text = str(description).lower()
    for regex, category in _compiled():
        if regex.fullmatch(text):
            return category
    return OTHER


@lru_cache(maxsize=16384)
def category_of(description: str | None) -> str:
    """:func:`categorise`, remembered: the dashboard categorises the same ~1,100 charge texts on
    every query grouped by reason (dashboard/queries.py ``_by_reason``)."""
    return categorise(description)


def coverage(descriptions: Iterable[str | None]) -> float:
    """Share of the given charges (one description each) placed in a category other than ``other``."""
    values = list(descriptions)
    if not values:
        return 0.0
    return sum(categorise(v) != OTHER for v in values) / len(values)


def label(category: str | None) -> str:
    """The category's name in the page's language (a code the file does not know is shown as is)."""
    if category is None:
        return names()[OTHER][1 if lang() == "es" else 0]
    pair = names().get(str(category))
    if pair is None:
        return str(category)
    return pair[1] if lang() == "es" else pair[0]
