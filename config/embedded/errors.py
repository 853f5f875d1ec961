"""The one error the embedded servers raise for expected failures (port taken, folder locked...):
its message is meant to be shown as is, on one line, without a traceback."""


class ServiceError(Exception):
    pass
