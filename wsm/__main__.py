"""``python -m wsm``: the command line (see :mod:`wsm.cli`)."""

import sys

from wsm.cli import main

sys.exit(main())
