"""Local TCP ports for the embedded servers."""

import socket


def port_taken(port: int, host: str = "127.0.0.1") -> bool:
    """True when something listens on ``host:port`` (or it cannot be bound)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers bind
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def free_port(preferred: int | None = None) -> int:
    """``preferred`` when it is free (stable addresses across restarts), else one from the OS."""
    if preferred and not port_taken(preferred):
        return preferred
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
