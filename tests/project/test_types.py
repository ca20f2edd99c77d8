"""The package type-checks: mypy (pinned in the test extra, configured in pyproject.toml) passes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_mypy_passes_on_the_package():
    result = subprocess.run([sys.executable, "-m", "mypy", "--no-incremental"], check=False, cwd=ROOT,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"mypy found problems:\n{result.stdout}{result.stderr}"
