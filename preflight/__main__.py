"""``python -m preflight``: the same as the ``preflight`` command."""

import sys

from .cli import main

sys.exit(main())
