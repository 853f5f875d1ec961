"""One warning per failed login (the admin's), naming the username and the client IP, never the
password: ``user_login_failed`` carries the credentials with the password already masked, and
only the username is read from them. The client IP is the one django-axes counted
(``AXES_CLIENT_IP_CALLABLE``: the rate limiter's), set on the request by its backend."""

import logging

from django.contrib.auth.signals import user_login_failed
from django.dispatch import receiver

logger = logging.getLogger("marketsite.login")
MAX_SHOWN = 150


@receiver(user_login_failed, dispatch_uid="marketsite.login_audit")
def log_failed_login(sender, credentials, request=None, **kwargs) -> None:
    username = str(credentials.get("username", ""))[:MAX_SHOWN]
    ip = getattr(request, "axes_ip_address", None) if request is not None else None
    path = request.path if request is not None else ""
    logger.warning(
        "failed login for username %r from %s on %s",
        username,
        ip or "-",
        path,
        extra={"username": username, "client_ip": ip, "path": path},
    )
