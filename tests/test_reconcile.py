"""Reconcile's confirmation rule (pipeline/reconcile.py): a row is deleted only when the portal,
asked for its id alone, answers a count of 0. Unknown answers and ids that cannot be asked keep
the row. The end-to-end reconcile runs are in tests/test_socrata_load.py."""

from __future__ import annotations

from pipeline.reconcile import _present_at_portal


class PortalCounts:
    """A stand-in for SocrataExtractor.count(where=":id = '...'"): scripted answers per id."""

    def __init__(self, answers: dict[str, int | None]) -> None:
        self.answers = answers
        self.asked: list[str] = []

    def count(self, since=None, *, where: str | None = None) -> int | None:  # noqa: ANN001
        assert where is not None and where.startswith(":id = '") and where.endswith("'"), where
        row_id = where[len(":id = '"):-1]
        self.asked.append(row_id)
        return self.answers[row_id]


def test_only_ids_the_portal_counts_as_zero_may_be_deleted() -> None:
    portal = PortalCounts({"row-gone": 0, "row-back": 1, "row-twice": 2, "row-unknown": None})

    present = _present_at_portal(portal, ["row-gone", "row-back", "row-twice", "row-unknown"])

    assert present == {"row-back", "row-twice", "row-unknown"}  # only row-gone is confirmed gone
    assert portal.asked == ["row-gone", "row-back", "row-twice", "row-unknown"]  # each asked on its own


def test_an_unknown_count_keeps_the_row() -> None:
    # count() returns None when the portal could not answer (retries exhausted): never a deletion.
    assert _present_at_portal(PortalCounts({"a": None, "b": None}), ["a", "b"]) == {"a", "b"}


def test_an_id_with_a_quote_is_never_spliced_into_soql_and_is_kept() -> None:
    portal = PortalCounts({"plain": 0})

    assert _present_at_portal(portal, ["it's", "plain"]) == {"it's"}
    assert portal.asked == ["plain"]


def test_no_candidates_asks_nothing() -> None:
    portal = PortalCounts({})
    assert _present_at_portal(portal, []) == set() and portal.asked == []
