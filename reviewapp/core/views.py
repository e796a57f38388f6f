from django.http import JsonResponse
from django.middleware.csrf import REASON_NO_CSRF_COOKIE
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from reviewapp.core.health import DOWN, OK, database_health_get, health_report


def home(request):
    return redirect("reviews:review-list")


@require_GET
def favicon(request):
    """Browsers ask for /favicon.ico whatever the page links; send them to the static file
    (whose name carries its hash, so it is cached for good)."""
    return redirect(static("favicon.ico"))


def csrf_failure(request, reason: str = ""):
    """The refused form's page, rendered with the request (Django's own renders without it), so
    the header still shows who is logged in and the way back."""
    return render(
        request, "403_csrf.html", {"no_cookie": reason == REASON_NO_CSRF_COOKIE}, status=403
    )


@never_cache
@require_GET
def healthz(request):
    """For monitoring and load balancers: 200 when the database, the broker and a worker are up,
    503 naming what is down otherwise (see reviewapp/core/health.py for each check)."""
    healthy, body = health_report()
    return JsonResponse(body, status=200 if healthy else 503)


@never_cache
@require_GET
def healthz_live(request):
    """For the web container's own healthcheck: this process answers and reaches the database.

    Not the broker nor the worker: a web process is no less alive for them being down, and
    restarting it would not bring them back.
    """
    database, error = database_health_get()
    if database != OK:
        return JsonResponse(
            {"status": DOWN, "database": database, "errors": {"database": error}}, status=503
        )
    return JsonResponse({"status": OK, "database": database})
