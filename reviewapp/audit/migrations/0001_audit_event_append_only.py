"""The audit log, append-only in the database itself: a trigger refuses UPDATE and DELETE of its
rows, so not even a bulk query or a shell session can rewrite what happened (the model and admin
refuse it too). TRUNCATE is left to the database owner (and the test runner's flush)."""

import django.core.serializers.json
import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

PG_TRIGGER = """
CREATE OR REPLACE FUNCTION audit_event_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit events are append-only: % of audit_auditevent refused', TG_OP
        USING ERRCODE = 'restrict_violation';
END $$;
CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON audit_auditevent
FOR EACH ROW EXECUTE FUNCTION audit_event_refuse_change();
"""
PG_DROP = """
DROP TRIGGER IF EXISTS audit_event_append_only ON audit_auditevent;
DROP FUNCTION IF EXISTS audit_event_refuse_change();
"""
# SQLite (development): the same refusal, one trigger per operation.
SQLITE_TRIGGERS = [
    """CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_auditevent
    BEGIN SELECT RAISE(ABORT, 'audit events are append-only: UPDATE refused'); END""",
    """CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON audit_auditevent
    BEGIN SELECT RAISE(ABORT, 'audit events are append-only: DELETE refused'); END""",
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS audit_event_no_update",
    "DROP TRIGGER IF EXISTS audit_event_no_delete",
]


def trigger_create(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        # No params: the % in RAISE is the format of plpgsql, not a placeholder.
        schema_editor.execute(PG_TRIGGER, params=None)
    elif vendor == "sqlite":
        for sql in SQLITE_TRIGGERS:
            schema_editor.execute(sql)
    else:
        raise NotImplementedError(f"No trigger for {vendor}: PostgreSQL and SQLite only.")


def trigger_drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PG_DROP)
    else:
        for sql in SQLITE_DROP:
            schema_editor.execute(sql)


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('reviews', '0001_initial'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='AuditEvent',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('actor_label', models.CharField(blank=True, max_length=150)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now, editable=False)),
                ('action', models.CharField(max_length=64)),
                ('target_type', models.CharField(max_length=40)),
                ('target_id', models.CharField(blank=True, max_length=64)),
                ('target_label', models.CharField(blank=True, max_length=300)),
                ('before', models.JSONField(blank=True, default=dict, encoder=django.core.serializers.json.DjangoJSONEncoder)),
                ('after', models.JSONField(blank=True, default=dict, encoder=django.core.serializers.json.DjangoJSONEncoder)),
                ('request_meta', models.JSONField(blank=True, default=dict)),
                ('actor', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('review', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='audit_events', to='reviews.review')),
            ],
            options={
                'ordering': ['-id'],
                'indexes': [models.Index(fields=['review', 'id'], name='audit_review_id'), models.Index(fields=['review', 'action', 'id'], name='audit_review_action'), models.Index(fields=['review', 'actor', 'id'], name='audit_review_actor')],
            },
        ),
        migrations.RunPython(trigger_create, trigger_drop),
    ]
