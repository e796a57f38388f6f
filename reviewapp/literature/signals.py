"""Keeps the count of records per search and import (reviewapp.core.tally) right for records
saved one at a time through the ORM (the admin, the demo data, the tests' factories).

Imports and searches store their records in bulk, which sends no signal; they count them
themselves (literature.services.records_counted).
"""

from django.db.models.signals import post_save
from django.dispatch import receiver

from reviewapp.core.tally import source_key, tally_add
from reviewapp.literature.models import Record


@receiver(post_save, sender=Record)
def _count_new_record(sender, instance: Record, created, raw=False, **kwargs):
    if raw or not created:
        return
    key = (
        source_key(search_id=instance.search_id)
        if instance.search_id is not None
        else source_key(import_id=instance.source_import_id)
    )
    tally_add(instance.review_id, {key: 1})
