"""The proxy-in-front-of-an-emulator fixtures, shared with tests/proxy."""

from tests.proxy.conftest import make_proxy, proxy, recorder, seed_text, upstream  # noqa: F401
