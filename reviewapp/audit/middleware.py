"""Notes where a request came from, for the audit events written while serving it."""

from __future__ import annotations

from reviewapp.audit.services import request_meta
from reviewapp.core.throttling import client_ip


class AuditRequestMiddleware:
    """Cheap: a few strings kept in a context variable; nothing is written unless a service
    records an event."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = request_meta.set(
            {
                "ip": client_ip(request) or "",
                "method": request.method or "",
                "path": request.path[:300],
            }
        )
        try:
            return self.get_response(request)
        finally:
            request_meta.reset(token)
