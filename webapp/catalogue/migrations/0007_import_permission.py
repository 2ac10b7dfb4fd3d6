"""Importing a gallery is a permission (webapp/permissions.py)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("catalogue", "0006_artefact_storage")]

    operations = [
        migrations.AlterModelOptions(
            name="artwork",
            options={
                "ordering": ["-listed_at", "id"],
                "permissions": [("import_gallery", "Can import a gallery from files")],
            },
        ),
    ]
