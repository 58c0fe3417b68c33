"""``python -m jlsm ...``: the same as the ``jlsm`` command."""

import sys

from jlsm.cli.main import main

sys.exit(main())
