"""Drop the plain review indexes of the state and vote rows (issue 13): the queue indexes and
rv_mine start with the review already, and with statistics taken while a review was small
PostgreSQL read a grown review's rows through the plain one (my count of votes: every vote of
the review, filtered). One index fewer to write per vote and per lease, too."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('reviews', '0001_initial'),
        ('screening', '0006_new_records_trigger'),
    ]

    operations = [
        migrations.AlterField(
            model_name='recordstagestate',
            name='review',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='reviews.review'),
        ),
        migrations.AlterField(
            model_name='recordvote',
            name='review',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='reviews.review'),
        ),
    ]
