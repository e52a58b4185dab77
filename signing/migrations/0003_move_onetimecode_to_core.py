"""OneTimeCode moves to the core (mediation.OneTimeCode): sessions check in with it and may not import signing.

The rows stay where they are: the table is renamed, never dropped, so codes in flight (and the
hour of history the rate limit counts) survive the upgrade. mediation/0003 takes the model over
in the migration state only.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("signing", "0002_archive_timestamp_event"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.AlterModelTable(name="onetimecode", table="mediation_onetimecode"),
                migrations.RenameIndex(
                    model_name="onetimecode",
                    old_name="signing_one_user_id_aee320_idx",
                    new_name="mediation_o_user_id_66b88d_idx",
                ),
            ],
            state_operations=[migrations.DeleteModel(name="OneTimeCode")],
        ),
    ]
