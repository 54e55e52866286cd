"""Answer cells and slices count scores per question (what the scores mean is applied when
read), with the repurchase state per score; the score tables of 0003 are folded into them; a
clock records the moment repurchase states are computed as of.

Rollups are derived data: the old rows are dropped here and a recompute fills the tables.
"""

from django.db import migrations, models

COMPONENT_FIELDS = ["measure", "scale_lo", "scale_hi", "n", "total", "total_sq", "count_a",
                    "count_b"]  # fmt: skip


def _new_fields(model: str) -> list[migrations.AddField]:
    return [
        migrations.AddField(
            model_name=model,
            name="question_id",
            field=models.IntegerField(default=0),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name=model, name="grid_row_id", field=models.IntegerField(default=0)
        ),
        migrations.AddField(
            model_name=model,
            name="score",
            field=models.SmallIntegerField(default=0),
            preserve_default=False,
        ),
        *(
            migrations.AddField(
                model_name=model, name=name, field=models.BigIntegerField(default=0)
            )
            for name in ("answers", "repurchase_open", "repurchase_closed", "repurchase_bought")
        ),
    ]


class Migration(migrations.Migration):
    dependencies = [("metrics", "0003_rollup_cells_for_filter_combinations")]

    operations = [
        migrations.RunSQL(
            "DELETE FROM metrics_answercell; DELETE FROM metrics_answerslice;",
            reverse_sql=migrations.RunSQL.noop,
        ),
        migrations.RemoveConstraint(model_name="answercell", name="answer_cell_key"),
        migrations.RemoveConstraint(model_name="answerslice", name="answer_slice_key"),
        *(
            migrations.RemoveField(model_name=model, name=name)
            for model in ("answercell", "answerslice")
            for name in COMPONENT_FIELDS
        ),
        *_new_fields("answercell"),
        *_new_fields("answerslice"),
        migrations.AlterField(
            model_name="answercell", name="survey_id", field=models.IntegerField(default=0)
        ),
        migrations.AlterField(
            model_name="answercell",
            name="channel",
            field=models.CharField(default="", max_length=8),
        ),
        migrations.AddConstraint(
            model_name="answercell",
            constraint=models.UniqueConstraint(
                fields=(
                    "quarter",
                    "survey_id",
                    "channel",
                    "touchpoint_id",
                    "segment",
                    "team_id",
                    "agent_id",
                    "question_id",
                    "grid_row_id",
                    "score",
                ),
                name="answer_cell_key",
            ),
        ),
        migrations.AddConstraint(
            model_name="answerslice",
            constraint=models.UniqueConstraint(
                fields=(
                    "quarter",
                    "slice_kind",
                    "slice_value",
                    "question_id",
                    "grid_row_id",
                    "score",
                ),
                name="answer_slice_key",
            ),
        ),
        migrations.DeleteModel(name="ScoreCell"),
        migrations.DeleteModel(name="ScoreSlice"),
        migrations.CreateModel(
            name="RollupClock",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("name", models.CharField(max_length=32, unique=True)),
                ("at", models.DateTimeField()),
            ],
        ),
    ]
