"""`python -m bench [NAME_PREFIX ...] [--out PATH]`: run the figures, print a table, write JSON."""

from __future__ import annotations

import sys

from bench.run import main

if __name__ == "__main__":
    sys.exit(main())
