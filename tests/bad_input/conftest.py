"""The bad-input suite imports its tables (cases_api.py, cases_cli.py) from this folder."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
