"""The fake X API of tests/x, reused for the follow-ups sent as X replies."""

from tests.x.conftest import sandbox

__all__ = ["sandbox"]
