"""`python -m gnnexp` is the same as the `gnnexp` command."""

import sys

from gnnexp.cli import main

sys.exit(main())
