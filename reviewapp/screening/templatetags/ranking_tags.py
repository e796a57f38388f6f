"""The ranking's status line on the screening page ("ranking last updated ... from N decisions")."""

from django import template

from reviewapp.screening.constants import QueueOrder, RankingStatus
from reviewapp.screening.models import Ranking

register = template.Library()


@register.inclusion_tag("screening/partials/_ranking_status.html", takes_context=True)
def ranking_status(context):
    """Reads `review`, `stage` and `settings` (the StageSettings) from the page's context; one
    query, and none at all when the stage's queue is not ranked.
    """
    settings = context.get("settings")
    if settings is None or getattr(settings, "queue_order", None) != QueueOrder.RANKED:
        return {"ranked": False}
    latest = (
        Ranking.objects.filter(
            review=context["review"], stage=context["stage"], status=RankingStatus.DONE
        )
        .order_by("-id")
        .values("finished_at", "training_size", "trained")
        .first()
    )
    return {"ranked": True, "latest": latest}
