"""The API key model moves here from the ``api`` app: state only, its table (``api_apikey``,
created by ``api.0001_initial``) and rows stay as they are. ``api.0002_apikey_moved_to_ticks``
removes it from the ``api`` app's state (leaving a proxy there for the admin)."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("ticks", "0003_ticker_state"),
        ("api", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="ApiKey",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True,
                                                   serialize=False, verbose_name="ID")),
                        ("name", models.CharField(help_text="Who or what uses this key.",
                                                  max_length=100)),
                        ("prefix", models.CharField(
                            editable=False, max_length=12,
                            help_text="The key's first characters, to recognise it.")),
                        ("key_hash", models.CharField(editable=False, max_length=64, unique=True)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("revoked_at", models.DateTimeField(blank=True, editable=False,
                                                            null=True)),
                    ],
                    options={
                        "verbose_name": "API key",
                        "ordering": ["-created_at"],
                        "db_table": "api_apikey",
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
