"""What the review flags read of a support image's foreground (its share of the image and of its border), stored
so the review says why it flagged an image ("foreground touches 83% of the border")."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [("core", "0014_runviews_image_gt_classes")]

    operations = [
        migrations.AddField(
            model_name="supportimage",
            name="measures",
            field=models.JSONField(blank=True, default=dict,
                                   help_text="what the flags read: fg_fraction, border_share of the fg mask"),
        ),
    ]
