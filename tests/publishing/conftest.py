"""The sandbox X API (tests/x/conftest.py) for the publishing tests that post to it."""

from tests.x.conftest import sandbox

__all__ = ["sandbox"]
