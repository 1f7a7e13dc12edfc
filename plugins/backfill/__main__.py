"""``python -m backfill``: the same commands as the ``backfill`` console script (backfill.cli)."""

from __future__ import annotations

import sys

from backfill.cli import main

if __name__ == "__main__":
    sys.exit(main())
