"""``python -m minicloud``."""

import sys

from minicloud.cli.main import main

sys.exit(main())
