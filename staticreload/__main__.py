"""``python -m staticreload``."""

import sys

from staticreload.cli import main

sys.exit(main())
