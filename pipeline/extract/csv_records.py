"""Count the records of a CSV export without the CSV reader that loads it.

The load checks ``records in the file = rows the reader parsed + lines it rejected``, file by file.
That check can only fail if the left side is counted by something other than the reader, so this
module counts records from the bytes with its own rule (numpy over blocks; a small walk only where
quotes make a line ambiguous).

The rule (RFC 4180 with the recovery a strict reader makes at a malformed line):

- A record ends at a line break outside a quoted field. Blank lines are not records (DuckDB skips
  them too).
- A quote opens a quoted field only at the start of a field (after a comma or a line break); a quote
  inside an unquoted field is a plain character.
- Inside a quoted field ``""`` is a quote; a quote followed by a comma, a line break or the end of
  the data closes the field. Any other closing quote (``"ab"c``), or a field still open
  ``MAX_RECORD_BYTES`` after its record's start, makes the quote a stray one: the record is its
  first physical line, and counting starts again on the next line.

NOTE: the last clause is where a reader that lets quoted fields span lines disagrees: DuckDB reads
from a stray quote to the next quote it finds (often on a later line) and rejects everything in
between as one line, so the records it swallowed are in that one reject's text.
:func:`split_records` cuts such a text back into the records this rule sees (the CSV source
quarantines each one), so a stray quote costs the load the records it touched, never their count.
The benchmark generator's ``unterminated_quote`` lines are such stray quotes.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

QUOTE, COMMA, LF, CR = 0x22, 0x2C, 0x0A, 0x0D
MAX_RECORD_BYTES = 2 << 20  # DuckDB's default max_line_size: no valid record is longer
BLOCK_BYTES = 16 << 20  # read size; must exceed MAX_RECORD_BYTES (a block always decides something)


def _record_end(buf: bytes | memoryview, quotes: np.ndarray, breaks: np.ndarray, start: int) -> int:
    """The index of the line break that ends the record starting at ``start`` (by the module's rule).

    ``quotes`` and ``breaks`` are the sorted positions of ``"`` and ``\\n`` in ``buf``; ``buf`` ends
    with a line break at least ``MAX_RECORD_BYTES`` past ``start`` or at the end of the data.
    """
    first_break = int(breaks[np.searchsorted(breaks, start)])
    qi = int(np.searchsorted(quotes, start))
    pos, inside = start, False
    while True:
        if not inside:
            end = int(breaks[np.searchsorted(breaks, pos)])
            if qi >= len(quotes) or quotes[qi] > end:
                return end
            q = int(quotes[qi])
            qi += 1
            pos = q + 1
            inside = q == start or buf[q - 1] in (COMMA, LF)  # else a plain character in an unquoted field
            continue
        if qi >= len(quotes) or quotes[qi] - start >= MAX_RECORD_BYTES:
            return first_break  # never closes: a stray quote
        q = int(quotes[qi])
        after = buf[q + 1] if q + 1 < len(buf) else LF
        if after == QUOTE:  # an escaped quote inside the field
            qi, pos = qi + 2, q + 2
        elif after in (COMMA, LF, CR):
            qi, pos, inside = qi + 1, q + 1, False
        else:
            return first_break  # "ab"c: a stray quote


def _ambiguous_lines(a: np.ndarray, quotes: np.ndarray, breaks: np.ndarray) -> np.ndarray:
    """Lines whose quotes need the walk; any other line is one whole record when it starts one.

    A line is plain when its quotes pair up in order as well-formed fields: an even number, each
    1st/3rd/... quote after a comma, a line break or a quote, each 2nd/4th/... one before a comma,
    a line break or a quote (``""`` inside a field keeps the pairing). The walk would then open and
    close every field on the line itself.
    """
    per_line = np.diff(np.searchsorted(quotes, breaks), prepend=0)
    ambiguous = per_line % 2 == 1
    if len(quotes):
        line = np.searchsorted(breaks, quotes)
        rank = np.arange(len(quotes)) - (np.cumsum(per_line) - per_line)[line]
        before = a[np.maximum(quotes - 1, 0)]
        after = a[np.minimum(quotes + 1, len(a) - 1)]
        opens = (quotes == 0) | (before == COMMA) | (before == LF) | (before == QUOTE)
        closes = (after == COMMA) | (after == LF) | (after == CR) | (after == QUOTE)
        bad = np.where(rank % 2 == 0, ~opens, ~closes)
        ambiguous[line[bad]] = True
    return np.flatnonzero(ambiguous)


class RecordCounter:
    """Feed bytes in order, then :meth:`close`: the number of records (header line included)."""

    def __init__(self) -> None:
        self.records = 0
        self._carry = b""

    def feed(self, block: bytes, final: bool = False) -> None:
        buf = self._carry + block
        if final and buf and not buf.endswith(b"\n"):
            buf += b"\n"
        last = buf.rfind(b"\n")
        horizon = len(buf) if final else last + 1 - MAX_RECORD_BYTES
        if last < 0 or horizon <= 0:
            self._carry = b"" if final else buf
            return
        view = memoryview(buf)[: last + 1]  # whole lines only (no copy): the tail is carried to the next block
        a = np.frombuffer(view, np.uint8)
        breaks = np.flatnonzero(a == LF)
        quotes = np.flatnonzero(a == QUOTE)
        starts = np.r_[0, breaks[:-1] + 1]
        decided = int(np.searchsorted(starts, horizon))  # lines that start a record here are decided now
        record_start = np.ones(len(breaks), bool)
        next_line = 0
        for line in _ambiguous_lines(a, quotes, breaks):
            if line >= decided:
                break
            if line < next_line:
                continue  # inside a multi-line record already counted
            end_line = int(np.searchsorted(breaks, _record_end(view, quotes, breaks, int(starts[line]))))
            record_start[line + 1: end_line + 1] = False
            next_line = end_line + 1
        cut = max(decided, next_line)
        length = breaks[:cut] - starts[:cut]
        first = a[starts[:cut]]
        blank = (length == 0) | ((length == 1) & (first == CR))
        self.records += int(np.count_nonzero(record_start[:cut] & ~blank))
        self._carry = buf[int(starts[cut]):] if cut < len(breaks) else buf[last + 1:]

    def close(self) -> int:
        self.feed(b"", final=True)
        return self.records


def count_records(path: Path) -> int:
    """Data records (header excluded) in a CSV export, plain or ``.gz``, by the module's rule."""
    counter = RecordCounter()
    opener = gzip.open if Path(path).suffix == ".gz" else open
    with opener(path, "rb") as fh:
        for block in iter(lambda: fh.read(BLOCK_BYTES), b""):
            counter.feed(block)
    return max(counter.close() - 1, 0)


def split_records(text: str) -> list[tuple[int, str]]:
    """The records in ``text`` by the module's rule, each with the number of line breaks before it
    (for a reader reject that swallowed several records)."""
    data = text.encode("utf-8")
    if not data.endswith(b"\n"):
        data += b"\n"
    a = np.frombuffer(data, np.uint8)
    breaks = np.flatnonzero(a == LF)
    quotes = np.flatnonzero(a == QUOTE)
    pieces, start = [], 0
    while start < len(data):
        end = _record_end(data, quotes, breaks, start)
        piece = data[start:end].rstrip(b"\r")
        if piece:
            pieces.append((int(np.searchsorted(breaks, start)), piece.decode("utf-8")))
        start = end + 1
    return pieces
