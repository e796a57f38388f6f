"""Keeps the materialised screening state right when a stage changes between single and dual.

The state of every record depends on how many votes the stage requires, so when that number
changes (review settings save StageSettings through the ORM) the stage's state is rebuilt from the
events in the same transaction. Queryset .update() calls bypass this; they must call
reviewapp.screening.state.stage_states_rebuild themselves.
"""

from django.db.models.signals import post_save, pre_save
from django.dispatch import receiver

from reviewapp.screening.models import StageSettings


@receiver(pre_save, sender=StageSettings)
def _remember_required(sender, instance: StageSettings, raw=False, **kwargs):
    if raw or instance.pk is None:
        instance._required_before = None
        return
    instance._required_before = (
        StageSettings.objects.filter(pk=instance.pk)
        .values_list("reviewers_required", flat=True)
        .first()
    )


@receiver(post_save, sender=StageSettings)
def _rebuild_on_required_change(sender, instance: StageSettings, created, raw=False, **kwargs):
    before = getattr(instance, "_required_before", None)
    if raw or created or before is None or before == instance.reviewers_required:
        return
    from reviewapp.screening.state import stage_states_rebuild

    stage_states_rebuild(instance.review, instance.stage)
