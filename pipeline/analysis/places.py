"""Is a stopped driver a Montgomery County resident? (from the free-text Driver City / Driver State)

The data have no driver ZIP, only ``driver_city`` and ``driver_state`` as typed by the officer.
A driver counts as a county resident when the state is MD and the city is one of the county's
place names below. The list was written from the USPS preferred city names of the county's 49
ZCTAs (the ZCTA list in data/reference/zcta2010_md_ncr_simplified.geojson, ``in_montgomery``;
the bundle carries no place names) plus the county's incorporated municipalities and census
designated places, which drivers often give instead of the postal name. A name that is not on
the list but is a near-certain misspelling of one (difflib similarity >= 0.9, at least 6
letters: "GAITHERBURG", "MONTGOMRY VILLAGE") counts as that place.

NOTE: four postal names of county ZCTAs belong mostly to a neighbouring county
(20705 Beltsville and 20707 Laurel: Prince George's/Howard; 20777 Highland: Howard;
21771 Mount Airy: Frederick/Carroll), as do two CDPs split with Prince George's (Calverton,
Hillandale). They are *ambiguous* and excluded from the residents-only view; their stop counts
are reported so the reader can judge the size of the effect. Badly misspelt city names fall
outside the list, so residents-only counts are a lower bound.
"""

from __future__ import annotations

import difflib
import re
from functools import lru_cache
from typing import Final

import numpy as np
import pandas as pd

# Postal city names of the 49 Montgomery County ZCTAs (primary county only).
POSTAL_CITIES: Final[frozenset[str]] = frozenset({
    "ASHTON", "BARNESVILLE", "BEALLSVILLE", "BETHESDA", "BOYDS", "BRINKLOW", "BROOKEVILLE",
    "BURTONSVILLE", "CABIN JOHN", "CHEVY CHASE", "CLARKSBURG", "DAMASCUS", "DERWOOD", "DICKERSON",
    "GAITHERSBURG", "GARRETT PARK", "GERMANTOWN", "GLEN ECHO", "KENSINGTON", "MONTGOMERY VILLAGE",
    "OLNEY", "POOLESVILLE", "POTOMAC", "ROCKVILLE", "SANDY SPRING", "SILVER SPRING", "SPENCERVILLE",
    "TAKOMA PARK", "WASHINGTON GROVE",
})

# Municipalities, CDPs and neighbourhood names used as a city in addresses, all inside the county.
OTHER_PLACES: Final[frozenset[str]] = frozenset({
    "ASPEN HILL", "BANNOCKBURN", "BROOKMONT", "CHEVY CHASE VIEW", "CHEVY CHASE VILLAGE", "CLOVERLY",
    "COLESVILLE", "COMUS", "DARNESTOWN", "FAIRLAND", "FOREST GLEN", "FOUR CORNERS", "FRIENDSHIP HEIGHTS",
    "FRIENDSHIP VILLAGE", "GLENMONT", "HYATTSTOWN", "KEMP MILL", "LAYHILL", "LAYTONSVILLE",
    "LEISURE WORLD", "MARTINS ADDITIONS", "NORTH BETHESDA", "NORTH CHEVY CHASE", "NORTH KENSINGTON",
    "NORTH POTOMAC", "REDLAND", "ROSSMOOR", "SOMERSET", "SOUTH KENSINGTON", "TRAVILAH", "WHEATON",
    "WHITE OAK", "WOODSIDE", "GLEN ECHO HEIGHTS", "WHEATON GLENMONT", "NATIONAL INSTITUTES OF HEALTH",
})

MONTGOMERY_PLACES: Final[frozenset[str]] = POSTAL_CITIES | OTHER_PLACES

AMBIGUOUS_PLACES: Final[frozenset[str]] = frozenset({
    "BELTSVILLE", "LAUREL", "HIGHLAND", "MOUNT AIRY", "CALVERTON", "HILLANDALE",
})

# Abbreviations seen in address fields -> the full name (applied word by word before matching).
_WORD_ALIASES: Final[dict[str, str]] = {
    "MT": "MOUNT", "N": "NORTH", "S": "SOUTH", "VLG": "VILLAGE", "VILL": "VILLAGE", "SPG": "SPRING",
    "SPGS": "SPRING", "SPRINGS": "SPRING", "PK": "PARK",
}
# Whole-name aliases (after word aliases): common run-together or shortened forms.
_NAME_ALIASES: Final[dict[str, str]] = {
    "SILVERSPRING": "SILVER SPRING",
    "MONTGOMERY VIL": "MONTGOMERY VILLAGE",
    "TAKOMA PARK MD": "TAKOMA PARK",
    "CHEVY CHASE MD": "CHEVY CHASE",
    "GAITHERSBURGH": "GAITHERSBURG",
    "GERMANTOWN MD": "GERMANTOWN",
}

RESIDENT_COUNTY: Final = "county"
RESIDENT_AMBIGUOUS: Final = "ambiguous"
RESIDENT_ELSEWHERE: Final = "elsewhere"
RESIDENT_UNKNOWN: Final = "unknown"

_NON_LETTERS = re.compile(r"[^A-Z ]+")
_SPACES = re.compile(r"\s+")


def normalise_city(city: object) -> str | None:
    """Upper case, letters and single spaces only, abbreviations expanded; None when empty."""
    if city is None or (isinstance(city, float) and np.isnan(city)) or city is pd.NA:
        return None
    text = _NON_LETTERS.sub(" ", str(city).upper().replace("'", ""))
    words = [_WORD_ALIASES.get(w, w) for w in _SPACES.sub(" ", text).strip().split(" ") if w]
    name = " ".join(words)
    if not name:
        return None
    return _NAME_ALIASES.get(name, name)


FUZZY_CUTOFF: Final = 0.9
_KNOWN: Final = sorted(MONTGOMERY_PLACES | AMBIGUOUS_PLACES)


@lru_cache(maxsize=4096)
def match_place(name: str) -> str | None:
    """The list entry ``name`` is, or nearly certainly misspells; None when there is none."""
    if name in MONTGOMERY_PLACES or name in AMBIGUOUS_PLACES:
        return name
    if len(name.replace(" ", "")) < 6:
        return None
    close = difflib.get_close_matches(name, _KNOWN, n=1, cutoff=FUZZY_CUTOFF)
    return close[0] if close else None


def residence_status(city: object, state: object) -> str:
    """``county``, ``ambiguous``, ``elsewhere`` or ``unknown`` (city or state missing)."""
    st = None if state is None or (isinstance(state, float) and np.isnan(state)) or state is pd.NA else str(state).strip().upper()
    name = normalise_city(city)
    if not st:
        return RESIDENT_UNKNOWN
    if st != "MD":
        return RESIDENT_ELSEWHERE
    if name is None:
        return RESIDENT_UNKNOWN
    place = match_place(name)
    if place in MONTGOMERY_PLACES:
        return RESIDENT_COUNTY
    if place in AMBIGUOUS_PLACES:
        return RESIDENT_AMBIGUOUS
    return RESIDENT_ELSEWHERE


def residence_statuses(cities: pd.Series, states: pd.Series) -> pd.Series:
    """:func:`residence_status` over two aligned Series (computed once per distinct pair)."""
    pairs = pd.DataFrame({"city": cities.astype(object), "state": states.astype(object)})
    keys = pairs.drop_duplicates()
    keys["status"] = [residence_status(c, s) for c, s in zip(keys["city"], keys["state"])]
    merged = pairs.merge(keys, on=["city", "state"], how="left")
    return pd.Series(merged["status"].to_numpy(), index=cities.index, name="residence")
