"""Give groups made before the forums existed the default categories."""

from django.db import migrations

DEFAULTS = (
    ("Introductions", "Say hello and tell us a little about yourself."),
    ("Living with it", "Day-to-day life, good days and hard ones."),
    ("Treatments and appointments",
     "Experiences of care. We share experience, not medical advice."),
    ("Off topic", "Anything else."),
)


def add_defaults(apps, schema_editor):
    Group = apps.get_model("community", "Group")
    Category = apps.get_model("forums", "Category")
    for group in Group.objects.filter(forum_categories__isnull=True):
        Category.objects.bulk_create(
            Category(group=group, name=name, description=text, position=i)
            for i, (name, text) in enumerate(DEFAULTS)
        )


class Migration(migrations.Migration):
    dependencies = [("forums", "0001_initial")]

    operations = [migrations.RunPython(add_defaults, migrations.RunPython.noop)]
