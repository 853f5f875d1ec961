"""supervisord's event-listener protocol (documented in supervisord's "Events" chapter), for the
listeners ``config.procman`` runs (``procman_logs``, ``procman_metrics``).

In bytes: an event's header says its payload's length in bytes, which a text stream would
count in characters (a process's log line with non-ASCII text would desynchronise the
protocol), so supervisor's own text-mode ``childutils.listener`` is not used.
"""


def fields(line: bytes) -> dict[bytes, bytes]:
    """The ``key:value`` tokens of a header or payload line."""
    return dict(token.split(b":", 1) for token in line.split() if b":" in token)


def listen(stdin, stdout, handle) -> None:
    """Until supervisord closes ``stdin``: READY, an event's header and payload, then
    ``handle(header fields, payload)`` and the result OK (an event is never refused: a refused
    one would be sent again, forever)."""
    while True:
        stdout.write(b"READY\n")
        stdout.flush()
        header = stdin.readline()
        if not header:
            return
        header_fields = fields(header)
        payload = stdin.read(int(header_fields[b"len"]))
        handle(header_fields, payload)
        stdout.write(b"RESULT 2\nOK")
        stdout.flush()
