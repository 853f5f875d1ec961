"""The one error the embedded servers raise for expected failures (port taken, folder locked...):
its message is meant to be shown as is, on one line, without a traceback."""


class ServiceError(Exception):
    pass


class PortTaken(ServiceError):
    """The server's port was taken, possibly between choosing it and binding it (another
    server starting at the same moment): a first start may retry on another port."""
