from django.db import migrations


def load(apps, schema_editor):
    from moderation.rulebook import sync_site_pack

    sync_site_pack(apps.get_model("moderation", "ScreeningRule"))


class Migration(migrations.Migration):
    dependencies = [("moderation", "0005_signposts_and_screening")]
    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
