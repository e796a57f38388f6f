"""Records added to a review are noted by a trigger, so the screening page needs no query on the
record table to find records without state rows (issue 13: that query took 77-145 ms on a
database holding many reviews). Replaces StageSettings.rows_synced_to (no longer read), a
high-water mark of record ids that a late-committing import could slip under."""

from django.db import migrations, models

# PostgreSQL: one row per statement (an import's COPY batch), from the statement's new rows.
PG_TRIGGER = """
CREATE OR REPLACE FUNCTION screening_records_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO screening_newrecords (review_id, first_id, last_id)
    SELECT review_id, min(id), max(id) FROM added GROUP BY review_id;
    RETURN NULL;
END $$;
CREATE TRIGGER screening_records_added AFTER INSERT ON literature_record
REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION screening_records_added();
"""
PG_DROP = """
DROP TRIGGER IF EXISTS screening_records_added ON literature_record;
DROP FUNCTION IF EXISTS screening_records_added();
"""
# SQLite (development) has no statement-level triggers: one row per record.
SQLITE_TRIGGER = """
CREATE TRIGGER screening_records_added AFTER INSERT ON literature_record
BEGIN
    INSERT INTO screening_newrecords (review_id, first_id, last_id)
    VALUES (NEW.review_id, NEW.id, NEW.id);
END
"""
SQLITE_DROP = "DROP TRIGGER IF EXISTS screening_records_added"

# Records that have no title/abstract row yet (an import that committed under the old mark, or
# records not yet asked for): noted once per review, for the next sync to build.
BACKFILL = """
INSERT INTO screening_newrecords (review_id, first_id, last_id)
SELECT r.review_id, min(r.id), max(r.id) FROM literature_record r
WHERE NOT EXISTS (
    SELECT 1 FROM screening_recordstagestate s WHERE s.record_id = r.id AND s.stage = 'ta'
)
GROUP BY r.review_id
"""
# Full-text rows of records included at title/abstract, which the queue used to fill in when it
# ran short; every inclusion writes its full-text row in the same transaction now.
FULL_TEXT_ROWS = """
INSERT INTO screening_recordstagestate
    (review_id, record_id, stage, state, n_votes, queue_key, updated_at)
SELECT s.review_id, s.record_id, 'ft', 'unscreened', 0, s.queue_key, CURRENT_TIMESTAMP
FROM screening_recordstagestate s
WHERE s.stage = 'ta' AND s.state = 'included' AND NOT EXISTS (
    SELECT 1 FROM screening_recordstagestate f WHERE f.record_id = s.record_id AND f.stage = 'ft'
)
"""


def trigger_create(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_TRIGGER)
    elif vendor == "sqlite":
        schema_editor.execute(SQLITE_TRIGGER)
    else:
        raise NotImplementedError(f"No trigger for {vendor}: PostgreSQL and SQLite only.")
    schema_editor.execute(BACKFILL)
    schema_editor.execute(FULL_TEXT_ROWS)


def trigger_drop(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    schema_editor.execute(PG_DROP if vendor == "postgresql" else SQLITE_DROP)


class Migration(migrations.Migration):
    dependencies = [
        ("literature", "0003_import_warnings"),
        ("reviews", "0001_initial"),
        ("screening", "0005_report_file_history"),
    ]

    operations = [
        migrations.CreateModel(
            name="NewRecords",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("first_id", models.BigIntegerField()),
                ("last_id", models.BigIntegerField()),
                (
                    "review",
                    models.ForeignKey(
                        on_delete=models.deletion.CASCADE,
                        related_name="+",
                        to="reviews.review",
                    ),
                ),
            ],
            options={"verbose_name_plural": "new records"},
        ),
        migrations.RunPython(trigger_create, trigger_drop),
    ]
