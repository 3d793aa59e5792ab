"""`python -m exporter` is the console script."""

import sys

from .cli import main

sys.exit(main())
