"""`python -m vrrp_agent` runs the command line."""

import sys

from vrrp_agent.cli import main

sys.exit(main())
