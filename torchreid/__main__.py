"""``python -m torchreid`` = the ``torchreid`` command."""

from __future__ import annotations

import sys

from torchreid.cli import main

if __name__ == "__main__":
    sys.exit(main())
