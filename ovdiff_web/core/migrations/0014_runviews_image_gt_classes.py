"""Per-image ground-truth classes (the run page's "class present in the ground truth" filter). Rows scored before
this stay null: the run page reads their ground truth once, when that filter first needs it."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('core', '0013_legacy_segmentations'),
    ]

    operations = [
        migrations.AddField(
            model_name='imageresult',
            name='gt_classes',
            field=models.JSONField(blank=True, help_text='dataset classes in the ground truth (null: scored before this was kept)', null=True),
        ),
    ]
