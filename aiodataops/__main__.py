"""``python -m aiodataops``: the same as the ``aiodataops`` command."""

import sys

from aiodataops.cli import main

sys.exit(main())
