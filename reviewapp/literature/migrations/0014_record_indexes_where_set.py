"""Fewer index entries per record (issue 13: PostgreSQL's share of an import).

The plain review index repeated what every other record index starts with; the search and
import indexes held an entry for every record whose column is NULL (all of an import's records
have no search, all of a search's no import). Lookups by search or import (`search_id = x`)
still use the partial indexes, whose condition that implies.
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('literature', '0013_duplicate_active_by_primary'),
        ('reviews', '0002_invitations'),
    ]

    operations = [
        migrations.AlterField(
            model_name='record',
            name='review',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='records', to='reviews.review'),
        ),
        migrations.AlterField(
            model_name='record',
            name='search',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='records', to='literature.search'),
        ),
        migrations.AlterField(
            model_name='record',
            name='source_import',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='records', to='literature.import'),
        ),
        migrations.AddIndex(
            model_name='record',
            index=models.Index(condition=models.Q(('search__isnull', False)), fields=['search'], name='record_by_search'),
        ),
        migrations.AddIndex(
            model_name='record',
            index=models.Index(condition=models.Q(('source_import__isnull', False)), fields=['source_import'], name='record_by_import'),
        ),
    ]
