"""``python -m app`` is the same entry point as the ``labelloop`` command."""

import sys

from app.cli import main

sys.exit(main())
