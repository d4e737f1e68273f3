"""The GUI half of the hostile-user reliability suite (issue #12); the Qt-free half is
tests/reliability/. The GUI fixtures come from tests/gui/conftest.py."""
from __future__ import annotations

from tests.gui.run_fixtures import fake_run  # noqa: F401 - a fixture, offered to the tests here
