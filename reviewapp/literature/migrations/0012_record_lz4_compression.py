"""Record's long columns are compressed with lz4 instead of pglz, where the server has lz4.

A record with a structured abstract is over PostgreSQL's 2 kB threshold, so every imported row
was compressed on the way in, with pglz: a large part of the database's work in a 100,000-record
import (issue 13), which runs beside the import's own parsing on the same two cores. lz4 does
it several times faster and decompresses faster on reads. Only rows written from now on use it;
rows already stored keep pglz, and PostgreSQL reads both. A server built without lz4 keeps pglz.
"""

from django.db import migrations

COLUMNS = ("title", "abstract", "abstract_sections", "authors", "keywords", "mesh_terms", "raw")


def _lz4_available(cursor) -> bool:
    cursor.execute(
        "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'"
    )
    row = cursor.fetchone()
    return bool(row and row[0])


def _set(schema_editor, method: str) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        if method == "lz4" and not _lz4_available(cursor):
            return
    alters = ", ".join(f"ALTER COLUMN {column} SET COMPRESSION {method}" for column in COLUMNS)
    schema_editor.execute(f"ALTER TABLE literature_record {alters}")


def forwards(apps, schema_editor):
    _set(schema_editor, "lz4")


def backwards(apps, schema_editor):
    _set(schema_editor, "pglz")


class Migration(migrations.Migration):
    dependencies = [("literature", "0011_merge_0010_living_schedule_versions_0010_record_merge")]

    operations = [migrations.RunPython(forwards, backwards)]
