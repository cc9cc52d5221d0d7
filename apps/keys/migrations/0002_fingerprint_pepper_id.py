from django.conf import settings
from django.db import migrations, models


def label_existing_fingerprints(apps, schema_editor) -> None:
    # Before pepper ids there was one pepper, the configured one: label every fingerprint with its id.
    # (Upgrade first, rotate after: a pepper changed before this migration cannot be told apart.)
    ProviderKey = apps.get_model("keys", "ProviderKey")
    ProviderKey.objects.filter(fingerprint_pepper_id="").update(fingerprint_pepper_id=settings.VAULT_FINGERPRINT_PEPPER_ID)


class Migration(migrations.Migration):
    dependencies = [
        ("keys", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="providerkey",
            name="fingerprint_pepper_id",
            field=models.CharField(blank=True, db_index=True, default="", editable=False, max_length=32),
        ),
        migrations.RunPython(label_existing_fingerprints, migrations.RunPython.noop),
    ]
