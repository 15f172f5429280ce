from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('core', '0010_support_set_access'),
    ]

    operations = [
        migrations.AddField(
            model_name='dataset',
            name='description',
            field=models.TextField(blank=True, help_text='what the data is and where it came from'),
        ),
    ]
