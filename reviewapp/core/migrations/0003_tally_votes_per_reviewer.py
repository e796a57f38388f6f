from django.db import migrations


def backfill(apps, schema_editor):
    # One GROUP BY over every review's votes (core/tally.py), quick on 1,000,000 records.
    from reviewapp.core.tally import tally_recount

    tally_recount(parts="m")


def remove(apps, schema_editor):
    Tally = apps.get_model("core", "Tally")
    Tally.objects.filter(name__startswith="m:").delete()


class Migration(migrations.Migration):
    """The vote count of each reviewer at each stage, kept by the vote writes from now on."""

    dependencies = [
        ("core", "0002_tally"),
        ("screening", "0015_merge_20261207_0538"),
    ]

    operations = [migrations.RunPython(backfill, remove)]
