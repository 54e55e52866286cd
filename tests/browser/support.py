"""What the Chromium tests share: Debian's browser (never a downloaded one) and the folder
their screenshots are saved to. The `browser` fixture is in tests/conftest.py."""

from __future__ import annotations

from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
