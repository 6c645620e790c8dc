"""``python -m wnae``."""

from __future__ import annotations

import sys

from wnae.cli import main

if __name__ == "__main__":
    sys.exit(main())
