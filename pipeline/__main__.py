"""``python -m pipeline`` — the daily load and its maintenance commands. See ``--help``."""

from __future__ import annotations

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
