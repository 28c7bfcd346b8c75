"""``python -m app.cli``: the ``synthgen`` command."""

import sys

from app.cli.main import main

sys.exit(main())
