"""Quality checks that gate a load: a failed check aborts before the warehouse commits."""

from __future__ import annotations

from dataclasses import dataclass, field


class QualityError(RuntimeError):
    """A check failed; the previous data keeps serving."""


@dataclass
class Checks:
    results: list[tuple[str, bool, str]] = field(default_factory=list)

    def check(self, name: str, ok: bool, detail: str) -> None:
        self.results.append((name, bool(ok), detail))
        if not ok:
            raise QualityError(f"quality check failed: {name}: {detail}")

    def equal(self, name: str, left: int | None, right: int | None, detail: str) -> None:
        self.check(name, left == right, f"{detail}: {left:,} vs {right:,}" if None not in (left, right) else detail)

    def files_read_whole(self, counted: dict[str, int], read: dict[str, int]) -> None:
        """Each source file's records, counted from its bytes, against the rows its reader parsed
        plus the lines it rejected: a reader that drops or merges a record fails the load here."""
        for name, records in counted.items():
            self.equal(f"{name}: records in the file = parsed + rejected by the CSV reader", records,
                       read.get(name, 0), "records counted from the file's bytes vs read by the reader")

    def summary(self) -> str:
        return "; ".join(f"{name}: {'ok' if ok else 'FAILED'}" for name, ok, _ in self.results)
