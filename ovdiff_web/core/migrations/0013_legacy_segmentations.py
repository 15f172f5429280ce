"""One segmentation path: the one-image ``SegmentJob`` rows become read-only ``LegacySegmentation`` records.

Finished rows keep everything (their files stay in MEDIA_ROOT/segment/<token>/ and their old pages show them);
rows still queued or running are failed with the reason, since no task computes them any more (a message still
queued for ``tasks.segment_image.segment_image`` is acknowledged and skipped). No row is deleted."""

from django.db import migrations, models
from django.utils import timezone

UNFINISHED_REASON = ("not finished before the upgrade to prediction jobs; segment the image again on the "
                     "Segment page")


def fail_unfinished(apps, schema_editor):
    SegmentJob = apps.get_model("core", "SegmentJob")
    SegmentJob.objects.filter(status__in=("queued", "running")).update(
        status="failed", error=UNFINISHED_REASON, finished_at=timezone.now())


class Migration(migrations.Migration):

    dependencies = [
        ('core', '0012_label_source_dataset'),
    ]

    operations = [
        migrations.RunPython(fail_unfinished, migrations.RunPython.noop),
        migrations.RenameModel('SegmentJob', 'LegacySegmentation'),
        migrations.RemoveField(model_name='legacysegmentation', name='celery_id'),
        migrations.RemoveField(model_name='legacysegmentation', name='started_at'),
        migrations.AlterField(
            model_name='legacysegmentation',
            name='status',
            field=models.CharField(choices=[('succeeded', 'Succeeded'), ('failed', 'Failed')], default='failed',
                                   max_length=16),
        ),
    ]
