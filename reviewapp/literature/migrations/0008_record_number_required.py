from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("literature", "0007_record_number")]

    operations = [
        migrations.AlterField(
            model_name="record",
            name="number",
            field=models.PositiveIntegerField(
                help_text="The record's number in its review, 1..N in the order records came in."
            ),
        ),
        migrations.AddConstraint(
            model_name="record",
            constraint=models.UniqueConstraint(
                fields=("review", "number"), name="record_number_once_per_review"
            ),
        ),
    ]
