from django.db import connection
from django.http import JsonResponse
from django.shortcuts import redirect
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from reviewapp.core.models import WorkerHeartbeat


def home(request):
    return redirect("reviews:review-list")


@never_cache
@require_GET
def healthz(request):
    """For load balancers and docker-compose: 200 when the database answers, 503 otherwise."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any database failure means 'unhealthy', whatever its class
        return JsonResponse({"database": "error", "detail": exc.__class__.__name__}, status=503)
    latest = WorkerHeartbeat.objects.order_by("-last_seen").first()
    return JsonResponse(
        {
            "database": "ok",
            "worker_last_seen": latest.last_seen.isoformat() if latest else None,
        }
    )
