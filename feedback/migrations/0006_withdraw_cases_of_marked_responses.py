"""Cases opened by responses already marked spam or test before cases followed the marks:
closed as not counted, like those marked from now on (feedback.services)."""

from django.db import migrations
from django.db.models import Q

NOTE = (
    "Closed when csat began following response marks: the response behind this case was "
    "marked as spam or test, so this case no longer counts in any case metric."
)


def withdraw(apps, schema_editor):
    Case = apps.get_model("feedback", "Case")
    Case.objects.filter(Q(response__is_spam=True) | Q(response__is_test=True)).exclude(
        status="withdrawn"
    ).update(status="withdrawn", resolution_note=NOTE)


class Migration(migrations.Migration):
    dependencies = [
        ("feedback", "0005_case_withdrawn_and_resolution_note"),
        ("surveys", "0001_initial"),
    ]

    operations = [migrations.RunPython(withdraw, migrations.RunPython.noop)]
