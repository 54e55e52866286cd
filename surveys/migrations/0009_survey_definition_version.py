"""Survey.definition_version, kept current by PostgreSQL triggers.

Any change to a survey row, or any insert, update or delete of one of its questions, choices
or grid rows, bumps the survey's `definition_version` in the same transaction. The response
API caches a survey's definition per process and inserts a response only while the version
it validated against is still the survey's (surveys/ingest.py), so an edit made by any path
(builder, admin, shell, queryset update) is seen by the very next submission.

Other databases (SQLite in development) get the column but no triggers: there the API reads
the definition afresh for every submission (surveys/definitions.py).
"""

from django.db import migrations, models

FUNCTIONS = """
CREATE OR REPLACE FUNCTION csat_survey_definition_bump() RETURNS trigger AS $$
BEGIN
    IF NEW IS DISTINCT FROM OLD THEN
        NEW.definition_version := OLD.definition_version + 1;
    END IF;
    RETURN NEW;
END $$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION csat_question_definition_bump() RETURNS trigger AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        UPDATE surveys_survey SET definition_version = definition_version + 1
         WHERE id = OLD.survey_id;
    END IF;
    IF TG_OP <> 'DELETE' AND (TG_OP = 'INSERT' OR NEW.survey_id <> OLD.survey_id) THEN
        UPDATE surveys_survey SET definition_version = definition_version + 1
         WHERE id = NEW.survey_id;
    END IF;
    RETURN NULL;
END $$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION csat_question_part_definition_bump() RETURNS trigger AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        UPDATE surveys_survey SET definition_version = definition_version + 1
         WHERE id = (SELECT survey_id FROM surveys_question WHERE id = OLD.question_id);
    END IF;
    IF TG_OP <> 'DELETE' AND (TG_OP = 'INSERT' OR NEW.question_id <> OLD.question_id) THEN
        UPDATE surveys_survey SET definition_version = definition_version + 1
         WHERE id = (SELECT survey_id FROM surveys_question WHERE id = NEW.question_id);
    END IF;
    RETURN NULL;
END $$ LANGUAGE plpgsql;

CREATE TRIGGER surveys_survey_definition_bump
    BEFORE UPDATE ON surveys_survey
    FOR EACH ROW EXECUTE FUNCTION csat_survey_definition_bump();
CREATE TRIGGER surveys_question_definition_bump
    AFTER INSERT OR UPDATE OR DELETE ON surveys_question
    FOR EACH ROW EXECUTE FUNCTION csat_question_definition_bump();
CREATE TRIGGER surveys_choice_definition_bump
    AFTER INSERT OR UPDATE OR DELETE ON surveys_choice
    FOR EACH ROW EXECUTE FUNCTION csat_question_part_definition_bump();
CREATE TRIGGER surveys_gridrow_definition_bump
    AFTER INSERT OR UPDATE OR DELETE ON surveys_gridrow
    FOR EACH ROW EXECUTE FUNCTION csat_question_part_definition_bump();
"""

DROP = """
DROP TRIGGER IF EXISTS surveys_gridrow_definition_bump ON surveys_gridrow;
DROP TRIGGER IF EXISTS surveys_choice_definition_bump ON surveys_choice;
DROP TRIGGER IF EXISTS surveys_question_definition_bump ON surveys_question;
DROP TRIGGER IF EXISTS surveys_survey_definition_bump ON surveys_survey;
DROP FUNCTION IF EXISTS csat_question_part_definition_bump();
DROP FUNCTION IF EXISTS csat_question_definition_bump();
DROP FUNCTION IF EXISTS csat_survey_definition_bump();
"""


def create_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FUNCTIONS)


def drop_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [
        ("surveys", "0008_response_answer_index_diet"),
    ]

    operations = [
        migrations.AddField(
            model_name="survey",
            name="definition_version",
            field=models.BigIntegerField(default=1, editable=False),
        ),
        migrations.RunPython(create_triggers, drop_triggers),
    ]
