"""Fill the reporting quarter and segment kept on responses submitted before they existed."""

from django.db import migrations


def backfill(apps, schema_editor):
    from metrics.periods import quarter_label

    Response = apps.get_model("surveys", "Response")
    pending = Response.objects.filter(quarter="", submitted_at__isnull=False).select_related(
        "customer"
    )
    batch = []
    for response in pending.iterator(chunk_size=2000):
        response.quarter = quarter_label(response.submitted_at)
        response.segment = response.customer.segment if response.customer_id else ""
        batch.append(response)
        if len(batch) == 2000:
            Response.objects.bulk_update(batch, ["quarter", "segment"])
            batch = []
    Response.objects.bulk_update(batch, ["quarter", "segment"])


class Migration(migrations.Migration):
    dependencies = [("surveys", "0002_purchase_response_in_rollup_response_quarter_and_more")]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
