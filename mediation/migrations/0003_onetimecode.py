"""OneTimeCode arrives from signing (see signing/0003): the table is already there, renamed in place.

The one migration of the core that depends on an app to its right: the table it takes over was
created by signing/0001, and renaming it in place keeps its rows.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("mediation", "0002_court_clocks"),
        ("signing", "0003_move_onetimecode_to_core"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name="OneTimeCode",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID"),
                        ),
                        ("purpose", models.CharField(max_length=60)),
                        ("channel", models.CharField(choices=[("sms", "短信"), ("email", "电子邮件")], max_length=10)),
                        ("destination", models.CharField(max_length=200)),
                        ("code_hash", models.CharField(max_length=64)),
                        ("created_at", models.DateTimeField(auto_now_add=True, db_index=True)),
                        ("expires_at", models.DateTimeField()),
                        ("used_at", models.DateTimeField(blank=True, null=True)),
                        ("attempts", models.PositiveSmallIntegerField(default=0)),
                        (
                            "user",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="one_time_codes",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "ordering": ["-created_at", "-pk"],
                        "indexes": [
                            models.Index(
                                fields=["user", "purpose", "created_at"], name="mediation_o_user_id_66b88d_idx"
                            )
                        ],
                    },
                ),
            ],
        ),
    ]
