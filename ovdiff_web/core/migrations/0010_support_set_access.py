"""Support sets built from uploads or a curated review become readable only through a class or run that uses
them (``ovdiff_web.core.access``). Existing rows: sets from users' folders and every curated set are marked
restricted; curated sets are linked to their class (``SupportCuration.support_key``). A user folder's set has no
recorded class yet: it is readable by staff only until its class is built again (a run or ``regenerate`` records
the link), never by everyone."""

from django.db import migrations, models


def restrict_existing(apps, schema_editor):
    SupportSet = apps.get_model("core", "SupportSet")
    SupportCuration = apps.get_model("core", "SupportCuration")
    SupportSet.objects.filter(source="user").update(restricted=True)
    for curation in SupportCuration.objects.exclude(support_key=""):
        row = SupportSet.objects.filter(key=curation.support_key).first()
        if row is not None:
            SupportSet.objects.filter(pk=row.pk).update(restricted=True)
            row.classes.add(curation.vocab_class_id)


class Migration(migrations.Migration):

    dependencies = [
        ('core', '0009_sdov_profile'),
    ]

    operations = [
        migrations.AddField(
            model_name='supportset',
            name='classes',
            field=models.ManyToManyField(blank=True, help_text='classes whose artifacts were built (or found) as this set', related_name='support_sets', to='core.vocabularyclass'),
        ),
        migrations.AddField(
            model_name='supportset',
            name='restricted',
            field=models.BooleanField(default=False, help_text="built from a user's uploads or a curated review: readable only by those who may read a class or run using it"),
        ),
        migrations.AddField(
            model_name='supportset',
            name='runs',
            field=models.ManyToManyField(blank=True, help_text='runs that used this set', related_name='support_sets', to='core.run'),
        ),
        migrations.RunPython(restrict_existing, migrations.RunPython.noop),
    ]
