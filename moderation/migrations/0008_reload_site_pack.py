from django.db import migrations


def load(apps, schema_editor):
    from moderation.rulebook import sync_site_pack

    sync_site_pack(apps.get_model("moderation", "ScreeningRule"))


class Migration(migrations.Migration):
    dependencies = [("moderation", "0007_screening_rule_requires_scope")]
    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
