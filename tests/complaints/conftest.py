"""Fixtures reused from elsewhere: the fake X API of tests/x (follow-ups sent as X replies)
and the Chromium of tests/web (the desk page)."""

from tests.web.conftest import browser
from tests.x.conftest import sandbox

__all__ = ["browser", "sandbox"]
