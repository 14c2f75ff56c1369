"""One run's batch, handed explicitly from stage to stage (extract -> transform -> zones -> warehouse).

The work connection is the transform's engine, not the run's memory: what a later stage needs
(the landing files, the quarantine, the null rates, the curated commit, the notes for the run log)
travels in a :class:`Batch`, never as tables or variables left on a connection.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa

from .extract.base import ExtractResult
from .transform import TransformCounts
from .zones import CuratedCommit


@dataclass
class Batch:
    run_id: str
    source: str
    extracted: ExtractResult
    counts: TransformCounts
    null_rates: dict[str, float] = field(default_factory=dict)
    commit: CuratedCommit | None = None  # None: nothing landed (a quiet day), nothing to merge

    @property
    def quarantine(self) -> pa.Table:
        return self.counts.quarantine

    @property
    def notes(self) -> list[str]:
        """What the run log's message says about this batch (the source's notes, the rules' notes)."""
        notes = list(self.extracted.notes)
        new_fields = ", ".join(self.extracted.unknown_columns)
        if new_fields and not any(new_fields in n for n in notes):
            notes.append(f"columns not in the canonical schema (kept in raw only): {new_fields}")
        return notes
