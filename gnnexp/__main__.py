"""`python -m gnnexp` is the same as the `gnnexp` command."""

from gnnexp.cli import run

run()
