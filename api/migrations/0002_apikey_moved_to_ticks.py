"""The API key model now belongs to ``ticks`` (``ticks.0004_apikey`` takes it over in state,
same table): here it leaves the ``api`` app's state, and a proxy of it takes its name, so the
admin's URLs (``/admin/api/apikey/``) and the ``api.*_apikey`` permissions stay. No database
change."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("api", "0001_initial"),
        ("ticks", "0004_apikey"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="ApiKey"),
                migrations.CreateModel(
                    name="ApiKey",
                    fields=[],
                    options={
                        "verbose_name": "API key",
                        "ordering": ["-created_at"],
                        "proxy": True,
                        "indexes": [],
                        "constraints": [],
                    },
                    bases=("ticks.apikey",),
                ),
            ],
            database_operations=[],
        ),
    ]
