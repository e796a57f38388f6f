"""Record.number: each record's number in its review, 1..N in the order records came in (by id).

Added nullable and filled here; 0008 makes it required and unique per review.
"""

from django.db import migrations, models

BACKFILL = """
UPDATE literature_record SET number = numbered.n
FROM (
    SELECT id, row_number() OVER (PARTITION BY review_id ORDER BY id) AS n
    FROM literature_record
) AS numbered
WHERE literature_record.id = numbered.id
"""


def backfill(apps, schema_editor):
    # The same statement on PostgreSQL and SQLite (3.33+ has UPDATE ... FROM): one pass, no
    # per-record query, so a review of 100,000 records migrates in seconds.
    schema_editor.execute(BACKFILL)


class Migration(migrations.Migration):
    dependencies = [("literature", "0006_search_error_detail_retry_at")]

    operations = [
        migrations.AddField(
            model_name="record",
            name="number",
            field=models.PositiveIntegerField(null=True),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
