"""A review deleted as a whole (by a site operator) takes its audit log with it, as it takes its
decisions; every other UPDATE or DELETE of an event is still refused. The review's deletion notes
its id for the transaction (reviewapp.audit.signals.review_deleting); the trigger reads it.
SQLite (development) keeps refusing: a review with events cannot be deleted there."""

import django.db.models.deletion
from django.db import migrations, models


PG_FUNCTION = """
CREATE OR REPLACE FUNCTION audit_event_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND OLD.review_id::text = ANY (string_to_array(
        coalesce(current_setting('reviewapp.reviews_deleted', true), ''), ','
    )) THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit events are append-only: % of audit_auditevent refused', TG_OP
        USING ERRCODE = 'restrict_violation';
END $$;
"""
PG_FUNCTION_BEFORE = """
CREATE OR REPLACE FUNCTION audit_event_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit events are append-only: % of audit_auditevent refused', TG_OP
        USING ERRCODE = 'restrict_violation';
END $$;
"""


def function_replace(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        # No params: the % in RAISE is the format of plpgsql, not a placeholder.
        schema_editor.execute(PG_FUNCTION, params=None)


def function_restore(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PG_FUNCTION_BEFORE, params=None)


class Migration(migrations.Migration):

    dependencies = [
        ('audit', '0002_review_index_is_review_id'),
        ('reviews', '0001_initial'),
    ]

    operations = [
        migrations.AlterField(
            model_name='auditevent',
            name='review',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='audit_events', to='reviews.review'),
        ),
        migrations.RunPython(function_replace, function_restore),
    ]
