"""Who may read the metrics (``/metrics`` and ``manage.py metrics_server``): a client whose
address is in ``METRICS_ALLOWED_IPS``, or one that sends ``Authorization: Bearer
<METRICS_TOKEN>``. Anyone else is refused: 401 when a token is configured (and names the
scheme), 403 when none is (only the allow-list opens it)."""

import hmac
import ipaddress
from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings


@dataclass(frozen=True)
class Refusal:
    status: int  # 401 or 403
    message: str
    headers: dict


@lru_cache(maxsize=8)
def _networks(allowed: tuple[str, ...]) -> tuple:
    return tuple(ipaddress.ip_network(n.strip(), strict=False) for n in allowed if n.strip())


def _allowed_address(client_ip: str | None) -> bool:
    try:
        address = ipaddress.ip_address((client_ip or "").strip())
    except ValueError:
        return False
    if address.version == 6 and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    return any(address in net for net in _networks(tuple(settings.METRICS_ALLOWED_IPS)))


def _bearer(authorization: str | None) -> str | None:
    scheme, _, credentials = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        return None
    return credentials.strip()


def metrics_refusal(*, client_ip: str | None, authorization: str | None) -> Refusal | None:
    """None when the client may read the metrics, else why not."""
    token = settings.METRICS_TOKEN
    presented = _bearer(authorization)
    if token and presented is not None and hmac.compare_digest(presented.encode(), token.encode()):
        return None
    if _allowed_address(client_ip):
        return None
    if token:
        return Refusal(
            401,
            "metrics need `Authorization: Bearer <METRICS_TOKEN>`"
            + (" (the token sent is not it)" if presented is not None else ""),
            {"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    return Refusal(
        403,
        f"metrics are not served to {client_ip or 'this client'}: its address is not in "
        "METRICS_ALLOWED_IPS (or set METRICS_TOKEN and send it as a bearer token)",
        {},
    )
