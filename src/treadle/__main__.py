"""``python -m treadle``: a short tour of asyncio code running on treadle, and a speed check."""

from __future__ import annotations

import sys

from treadle._demo import main

if __name__ == "__main__":
    sys.exit(main())
