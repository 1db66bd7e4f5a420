"""requirements.lock is exactly what the project and its tests are installed with (tools/lock.py).

Installs use it as constraints, so this holds on any day; it fails when pyproject.toml gains or loses a
dependency and the lock was not regenerated.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_lock_pins_what_is_installed() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "lock.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
