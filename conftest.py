"""Fixtures shared by every app's tests."""

import socket

import pytest


@pytest.fixture
def closed_port() -> int:
    """A local TCP port that nothing listens on: bound by the OS to find a free one, then closed.

    Connecting to it is refused at once, which makes "the server is unreachable" fast to test.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
