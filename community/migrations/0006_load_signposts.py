from django.db import migrations


def load(apps, schema_editor):
    from community.signposts import sync_shipped

    sync_shipped(apps.get_model("community", "Signpost"))


class Migration(migrations.Migration):
    dependencies = [("community", "0005_signposts_and_screening")]
    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
