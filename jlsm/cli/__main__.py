"""``python -m jlsm.cli``: the ``jlsm`` command."""

import sys

from .main import main

sys.exit(main())
