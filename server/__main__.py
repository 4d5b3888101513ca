"""`python -m server`: what `make run` starts (server/serve.py)."""

import sys

from server.serve import main

sys.exit(main())
