import sys

from mcp_admission.cli import main

sys.exit(main())
