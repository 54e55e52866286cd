"""Index diet for the two biggest tables: surveys_response and surveys_answer.

Every index costs each write (an import writes a million rows). Django gives every foreign key
an index of its own; most of ours were covered by a composite index that starts with the same
column, or served no query. Unique constraints are all kept. Which query uses which index:

surveys_response, before (16) -> after (12)
- surveys_response_pkey, response_import_key_unique, response_submission_key_unique,
  response_one_per_invitation: kept (primary key and unique constraints).
- response_counted_idx (status, submitted_at): dropped. No query filters on status and a
  submission time range; counted responses are always read by quarter (response_quarter_idx).
- response_counted_customer_idx (customer_id, quarter) WHERE counted: dropped. It served
  coverage's per-customer check, which now reads metrics_respondentquarter; the respondents'
  rebuild groups a quarter's responses (response_quarter_idx).
- surveys_response_survey_id (survey_id): replaced by response_survey_submitted_idx
  (survey_id, submitted_at): a survey's responses newest first (response list, survey page),
  the retention purge, and the survey key's checks.
- surveys_response_customer_id (customer_id): dropped, covered by response_customer_idx
  (customer_id, submitted_at): repurchase (a customer's responses around a purchase) and the
  SET NULL when a customer is deleted.
- surveys_response_invitation_id (invitation_id): dropped, covered by the unique
  response_one_per_invitation (invitation_id) WHERE invitation_id IS NOT NULL: "invitation_id =
  x" implies that condition (respondent page, outreach's answered check, SET NULL).
- surveys_response_agent_id, _team_id, _touchpoint_id: replaced by partial indexes
  response_agent_idx, response_team_idx, response_touchpoint_idx WHERE the key IS NOT NULL: the
  same look-ups (staff's responses, drill-down filters, the SET NULL when a user, team or
  touchpoint is deleted), without an entry for each web response that has none.
- response_quarter_idx, response_rollup_pending_idx, response_rollup_stale_idx: kept (the
  metrics engine's scans and rebuilds, the drill-down of a quarter).

surveys_answer, before (6) -> after (5)
- surveys_answer_pkey, surveys_answer_response_id (a response's answers, CASCADE), and
  answer_question_number_idx (question_id, number): kept.
- surveys_answer_question_id (question_id): dropped, covered by answer_question_number_idx.
- surveys_answer_choice_id, surveys_answer_grid_row_id: replaced by partial indexes
  answer_choice_idx, answer_grid_row_idx WHERE the key IS NOT NULL (most answers are scores or
  text; builder checks and PROTECT look up only set values).

The foreign-key constraints stay as they are: only Django's automatic per-column indexes are
dropped here (by name), in the database operations; the fields' db_index=False is recorded in
the state. Django's own AlterField would drop and re-create every constraint, and would drop
the unique response_one_per_invitation index too.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

# (table, column) of the automatic foreign-key indexes this migration drops.
FOREIGN_KEY_INDEXES = [
    ("surveys_response", "survey_id"),
    ("surveys_response", "customer_id"),
    ("surveys_response", "agent_id"),
    ("surveys_response", "team_id"),
    ("surveys_response", "touchpoint_id"),
    ("surveys_response", "invitation_id"),
    ("surveys_answer", "question_id"),
    ("surveys_answer", "grid_row_id"),
    ("surveys_answer", "choice_id"),
]


def _index_name(schema_editor, table, column):
    # The name Django gave the index when it created the foreign key (db_index=True).
    return schema_editor._create_index_name(table, [column], suffix="")


def drop_foreign_key_indexes(apps, schema_editor):
    quote = schema_editor.quote_name
    for table, column in FOREIGN_KEY_INDEXES:
        schema_editor.execute(
            f"DROP INDEX IF EXISTS {quote(_index_name(schema_editor, table, column))}"
        )


def create_foreign_key_indexes(apps, schema_editor):
    quote = schema_editor.quote_name
    for table, column in FOREIGN_KEY_INDEXES:
        name = quote(_index_name(schema_editor, table, column))
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON {quote(table)} ({quote(column)})"
        )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("surveys", "0007_import_jobs_and_response_import_key"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="response",
            name="response_counted_idx",
        ),
        migrations.RemoveIndex(
            model_name="response",
            name="response_counted_customer_idx",
        ),
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunPython(drop_foreign_key_indexes, create_foreign_key_indexes),
            ],
            state_operations=[
                migrations.AlterField(
                    model_name="answer",
                    name="choice",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="answers",
                        to="surveys.choice",
                    ),
                ),
                migrations.AlterField(
                    model_name="answer",
                    name="grid_row",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="answers",
                        to="surveys.gridrow",
                    ),
                ),
                migrations.AlterField(
                    model_name="answer",
                    name="question",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="answers",
                        to="surveys.question",
                    ),
                ),
                migrations.AlterField(
                    model_name="response",
                    name="agent",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="served_responses",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                migrations.AlterField(
                    model_name="response",
                    name="customer",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="responses",
                        to="surveys.customer",
                    ),
                ),
                migrations.AlterField(
                    model_name="response",
                    name="invitation",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="responses",
                        to="surveys.invitation",
                    ),
                ),
                migrations.AlterField(
                    model_name="response",
                    name="survey",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="responses",
                        to="surveys.survey",
                    ),
                ),
                migrations.AlterField(
                    model_name="response",
                    name="team",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="accounts.team",
                    ),
                ),
                migrations.AlterField(
                    model_name="response",
                    name="touchpoint",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="responses",
                        to="surveys.touchpoint",
                    ),
                ),
            ],
        ),
        migrations.AddIndex(
            model_name="answer",
            index=models.Index(
                condition=models.Q(("grid_row__isnull", False)),
                fields=["grid_row"],
                name="answer_grid_row_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="answer",
            index=models.Index(
                condition=models.Q(("choice__isnull", False)),
                fields=["choice"],
                name="answer_choice_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="response",
            index=models.Index(
                fields=["survey", "submitted_at"], name="response_survey_submitted_idx"
            ),
        ),
        migrations.AddIndex(
            model_name="response",
            index=models.Index(
                condition=models.Q(("agent__isnull", False)),
                fields=["agent"],
                name="response_agent_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="response",
            index=models.Index(
                condition=models.Q(("team__isnull", False)),
                fields=["team"],
                name="response_team_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="response",
            index=models.Index(
                condition=models.Q(("touchpoint__isnull", False)),
                fields=["touchpoint"],
                name="response_touchpoint_idx",
            ),
        ),
    ]
