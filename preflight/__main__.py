"""``python -m preflight``: the same as the ``preflight`` command."""

from .cli import run

run()
