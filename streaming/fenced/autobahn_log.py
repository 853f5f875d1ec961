"""autobahn internal: the log helpers its protocol module builds debug-log arguments with.

autobahn's ``sendData`` logs every write at debug level, and that call's arguments are built
before the logger drops them: ``hltype``/``hlval`` colour a qualified name and two values
through ``click.style`` (click is installed, for Celery). ``plain_log_arguments()`` points the
names ``autobahn.websocket.protocol`` uses at plain, cheap equivalents (same messages, no
colours). Installed on the first WebSocket connection daphne serves, not at import.

Switch: ``FAST_WS_PLAIN_LOG=false``.
Contract test: ``streaming/tests/test_fenced.py::test_autobahn_log_helpers``.
"""

import logging

logger = logging.getLogger(__name__)
_installed = False


def _plain_type(obj) -> str:
    return "<" + getattr(obj, "__qualname__", type(obj).__qualname__) + ">"


def _plain_value(value, color=None, bold=None) -> str:
    return str(value)


def plain_log_arguments() -> bool:
    """Idempotent; False (and nothing changed) when autobahn's layout is not the expected one."""
    global _installed
    if _installed:
        return True
    try:
        from autobahn.websocket import protocol
    except ImportError:
        return False
    if not (callable(getattr(protocol, "hltype", None))
            and callable(getattr(protocol, "hlval", None))):
        logger.warning("autobahn's log helpers moved: frames are sent without the tuning")
        return False
    protocol.hltype = _plain_type
    protocol.hlval = _plain_value
    _installed = True
    return True
