# ruff: noqa: RUF001, RUF003
"""Staff import through the pages: upload, map, see every row checked, confirm, follow the
progress; customers and purchases; who may do what; oversized uploads."""

from __future__ import annotations

import html
import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from accounts.models import User
from surveys.imports import services
from surveys.imports.models import ImportJob
from surveys.models import Customer, Purchase, Response, Segment, Survey
from tests.conftest import PASSWORD
from tests.surveys.import_support import (
    RESPONSES_HEADER,
    check,
    drain_outbox,
    nps_columns,
    run,
    upload,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2025, 6, 30, 12, tzinfo=SHANGHAI)


@pytest.fixture(autouse=True)
def _now() -> object:
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def _post_file(client: Client, content: bytes, name: str = "panel.csv", **fields: object) -> object:
    return client.post("/imports/upload/", {"file": SimpleUploadedFile(name, content), **fields})


def test_staff_uploads_a_file_and_sees_its_columns_with_a_guessed_mapping(
    staff_client: Client, nps_survey: Survey
) -> None:
    content = (RESPONSES_HEADER + "R-1,2025-05-01 10:00,,,,9,Fast\n").encode()

    response = _post_file(staff_client, content, kind="responses", survey=nps_survey.pk)

    job = ImportJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/imports/{job.pk}/"
    page = staff_client.get(response["Location"]).content.decode()
    assert "Map the columns" in page
    assert '<option value="key" selected>Response id *</option>' in page
    assert '<option value="submitted_at" selected>Submitted at *</option>' in page
    assert "<span>Fast</span>" in page
    assert "Times without an offset are read in Asia/Shanghai time." in page


def test_mapping_starts_the_check_and_the_page_follows_its_progress(
    staff_client: Client, nps_survey: Survey
) -> None:
    job = upload(RESPONSES_HEADER + "R-1,2025-05-01 10:00,,,,9,\n", survey=nps_survey)
    fields = {f"column_{index}": target for index, target in nps_columns(nps_survey).items()}

    response = staff_client.post(f"/imports/{job.pk}/mapping/", fields)

    assert response.status_code == 302
    page = staff_client.get(f"/imports/{job.pk}/").content.decode()
    # with JavaScript, import.js polls the progress; without it, the page refreshes itself
    assert f'data-import-progress="/imports/{job.pk}/progress.json"' in page
    assert '<noscript><meta http-equiv="refresh" content="3"></noscript>' in page
    assert '<script src="/static/js/import.js" defer></script>' in page
    progress = staff_client.get(f"/imports/{job.pk}/progress.json").json()
    assert progress["status"] == "validating"
    assert progress["status_label"] == "Checking every row"
    assert progress["is_active"] is True


def test_a_bad_mapping_is_shown_next_to_the_column_and_changes_nothing(
    staff_client: Client, nps_survey: Survey
) -> None:
    job = upload(RESPONSES_HEADER + "R-1,2025-05-01 10:00,,,,9,\n", survey=nps_survey)

    response = staff_client.post(
        f"/imports/{job.pk}/mapping/", {"column_0": "key", "column_2": "key"}
    )

    assert response.status_code == 400
    page = response.content.decode()
    assert "Response id is already mapped to column 1." in page
    assert "Map a column to each of: Submitted at, Q1. How likely are you to recommend us?." in page
    job.refresh_from_db()
    assert job.status == "mapping"


def test_checked_rows_show_counts_a_preview_and_every_problem_then_import_on_confirm(
    staff_client: Client, nps_survey: Survey
) -> None:
    content = RESPONSES_HEADER + (
        "R-1,2025-05-01 10:00,,,,9,Fast\nR-2,2025-05-01 10:00,,,,=2+2,\nR-3,2025-05-01,,,,4,\n"
    )
    job = check(upload(content, survey=nps_survey), nps_columns(nps_survey))

    page = staff_client.get(f"/imports/{job.pk}/").content.decode()

    assert "3 rows read" in page
    assert "2 rows can be imported" in page
    assert "1 row has problems and will not be imported" in page
    assert "column score: Choose a whole number from 0 to 10." in page  # in the preview
    assert (
        '<tr><td class="num">3</td><td>score</td><td>=2+2</td>'
        "<td>Choose a whole number from 0 to 10.</td></tr>"
    ) in page
    assert "Import 2 rows" in page

    response = staff_client.post(f"/imports/{job.pk}/confirm/")

    assert response.status_code == 302
    job.refresh_from_db()
    assert (job.status, job.rebuilds_rollups) == ("queued", False)
    services.import_job_run(job.pk)  # the task the confirmation enqueued
    page = staff_client.get(f"/imports/{job.pk}/").content.decode()
    assert "2 rows imported" in page
    assert "0 rows skipped: imported before" in page
    assert Response.objects.count() == 2


def test_the_problem_report_downloads_as_csv_with_formulas_neutralised(
    staff_client: Client, nps_survey: Survey
) -> None:
    content = RESPONSES_HEADER + "R-1,2025-05-01,,,,=HYPERLINK(1),\n-R,2025-05-01,nobody,,,5,\n"
    job = check(upload(content, survey=nps_survey), nps_columns(nps_survey))

    response = staff_client.get(f"/imports/{job.pk}/problems.csv")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == (
        f'attachment; filename="import-{job.pk}-problems.csv"'
    )
    assert b"".join(response.streaming_content).decode() == (
        "\ufeffRow,Column,Value,Problem\r\n"
        "2,score,'=HYPERLINK(1),Choose a whole number from 0 to 10.\r\n"
        "3,customer,nobody,No customer has the external id nobody.\r\n"
    )


def test_a_file_over_the_limit_is_refused_before_it_is_read(
    staff_client: Client, nps_survey: Survey, settings: object
) -> None:
    settings.IMPORT_MAX_FILE_MB = 1  # type: ignore[attr-defined]

    response = _post_file(
        staff_client, b"x" * (1024 * 1024 + 70 * 1024), kind="responses", survey=nps_survey.pk
    )

    assert response.status_code == 413
    assert "The file is larger than the 1 MB limit: split it into smaller files." in (
        response.content.decode()
    )
    assert not ImportJob.objects.exists()


def test_an_unreadable_file_is_refused_on_the_upload_page(
    staff_client: Client, nps_survey: Survey
) -> None:
    response = _post_file(
        staff_client, b"id\n\x80\xff\n", name="x.csv", kind="responses", survey=nps_survey.pk
    )

    assert response.status_code == 400
    assert "The file is neither UTF-8 nor GBK text" in response.content.decode()
    assert not ImportJob.objects.exists()


def test_responses_need_a_survey(staff_client: Client) -> None:
    response = _post_file(staff_client, b"id\n1\n", kind="responses")

    assert response.status_code == 400
    assert "Choose the survey the responses answer." in response.content.decode()


def test_staff_imports_customers_and_a_second_import_changes_nothing(
    staff_client: Client,
) -> None:
    Customer.objects.create(external_id="C-1", name="Old name", email="keep@example.com")
    content = (
        "id,name,segment,language,consent\n"
        "C-1,Li Wei,high_value,zh-CN,yes\n"
        "C-2,Ann,流失风险,en,否\n"
        "C-3,Bo,gold,fr,maybe\n"
    )
    columns = {0: "external_id", 1: "name", 2: "segment", 3: "language", 4: "consent"}

    first = import_file_as_staff(staff_client, content, "customers", columns)
    second = import_file_as_staff(staff_client, content, "customers", columns)

    assert (first.rows_imported, first.rows_updated, first.rows_invalid) == (1, 1, 1)
    assert (second.rows_imported, second.rows_updated, second.rows_skipped) == (0, 0, 2)
    assert list(
        Customer.objects.order_by("external_id").values_list(
            "external_id", "name", "email", "segment", "language", "consents_to_contact"
        )
    ) == [
        ("C-1", "Li Wei", "keep@example.com", Segment.HIGH_VALUE, "zh-hans", True),
        ("C-2", "Ann", "", Segment.CHURN_RISK, "en", False),
    ]
    assert list(first.row_errors.values_list("row", "column", "message")) == [
        (4, "segment", "Choose one of: high_value; normal; churn_risk."),
        (4, "language", "Choose one of: en; zh-hans."),
        (4, "consent", "Answer yes or no."),
    ]


def test_a_manager_imports_purchases_which_link_to_earlier_responses(
    nps_survey: Survey, manager_client: Client
) -> None:
    customer = Customer.objects.create(external_id="C-1")
    response = Response.objects.create(
        survey=nps_survey,
        channel="web",
        customer=customer,
        submitted_at=datetime(2025, 5, 1, tzinfo=SHANGHAI),
        quarter="2025Q2",
    )
    content = (
        'order,customer,when,amount\nO-1,C-1,2025-05-20 10:00,"1,299.50"\nO-2,C-9,2025-05-21,5\n'
    )
    columns = {0: "external_id", 1: "customer", 2: "purchased_at", 3: "amount"}

    job = import_file_as_staff(manager_client, content, "purchases", columns)
    again = import_file_as_staff(manager_client, content, "purchases", columns)

    assert (job.rows_imported, job.rows_invalid, again.rows_skipped) == (1, 1, 1)
    purchase = Purchase.objects.get()
    assert (purchase.external_id, str(purchase.amount)) == ("O-1", "1299.50")
    assert list(job.row_errors.values_list("row", "message")) == [
        (3, "No customer has the external id C-9.")
    ]
    drain_outbox()  # the chunk's event links the purchase to the response before it
    response.refresh_from_db()
    assert response.next_purchase_at == datetime(2025, 5, 20, 10, tzinfo=SHANGHAI)


def import_file_as_staff(
    client: Client, content: str, kind: str, columns: dict[int, str]
) -> ImportJob:
    response = _post_file(client, content.encode(), kind=kind)
    assert response.status_code == 302, response.content.decode()[:2000]
    job = ImportJob.objects.order_by("-pk").first()
    assert job is not None
    fields = {f"column_{index}": target for index, target in columns.items()}
    assert client.post(f"/imports/{job.pk}/mapping/", fields).status_code == 302
    services.import_job_validate(job.pk)
    assert client.post(f"/imports/{job.pk}/confirm/").status_code == 302
    services.import_job_run(job.pk)
    job.refresh_from_db()
    return job


def test_importing_purchases_needs_the_permission_to_record_purchases(staff: User) -> None:
    staff.user_permissions.remove(Permission.objects.get(codename="add_purchase"))
    staff.groups.clear()
    staff.user_permissions.add(Permission.objects.get(codename="add_importjob"))
    client = Client()
    client.force_login(staff)

    response = _post_file(client, b"order\nO-1\n", kind="purchases")

    assert response.status_code == 403
    assert not ImportJob.objects.exists()


def test_someone_without_a_role_sees_no_imports(db: None) -> None:
    outsider = User.objects.create_user(username="otto.outsider", password=PASSWORD)
    client = Client()
    client.force_login(outsider)
    job = upload("id\n1\n", kind="customers")

    assert client.get("/imports/").status_code == 403
    assert client.get(f"/imports/{job.pk}/").status_code == 403
    assert client.get(f"/imports/{job.pk}/progress.json").status_code == 403
    assert _post_file(client, b"id\n1\n", kind="customers").status_code == 403


def test_staff_see_imports_in_the_navigation_and_cancel_an_unconfirmed_one(
    staff_client: Client, nps_survey: Survey, staff: User
) -> None:
    job = upload(RESPONSES_HEADER + "R-1,2025-05-01,,,,9,\n", survey=nps_survey, user=staff)
    assert '<a href="/imports/">Imports</a>' in staff_client.get("/surveys/").content.decode()
    listing = staff_client.get("/imports/").content.decode()
    assert f'<a href="/imports/{job.pk}/">{job.pk}</a>' in listing

    response = staff_client.post(f"/imports/{job.pk}/cancel/")

    assert response.status_code == 302
    job.refresh_from_db()
    assert (job.status, job.parts.count()) == ("cancelled", 0)


def test_a_finished_import_reruns_nothing_from_its_page(
    staff_client: Client, nps_survey: Survey
) -> None:
    job = run(
        check(
            upload(RESPONSES_HEADER + "R-1,2025-05-01,,,,9,\n", survey=nps_survey),
            nps_columns(nps_survey),
        )
    )

    response = staff_client.post(f"/imports/{job.pk}/confirm/")

    assert response.status_code == 400
    assert "Only a checked file can be imported." in response.content.decode()
    assert Response.objects.count() == 1


def test_chinese_preview_joins_a_rows_problems_and_choices_the_chinese_way(
    staff_client: Client,
) -> None:
    # given a customer row with two problems, checked and previewed in Chinese
    job = check(
        upload("id,segment,language\nC-3,gold,fr\n", kind="customers"),
        {0: "external_id", 1: "segment", 2: "language"},
    )
    page = staff_client.get(
        f"/imports/{job.pk}/", HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9"
    ).content.decode()
    problems = re.search(
        r'data-testid="import-preview">.*?<span class="error">(.*?)</span>', page, re.S
    )
    assert problems is not None
    # then the choices are enumerated with 、 and the problems separated by ； (which takes the
    # place of the first problem's 。), no "; "
    assert html.unescape(problems.group(1)) == (
        "列“segment”：请从以下选项中选择：high_value、normal、churn_risk"
        "；列“language”：请从以下选项中选择：en、zh-hans。"
    )
    # and in English they stay "; "-separated
    english = staff_client.get(f"/imports/{job.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert (
        "column segment: Choose one of: high_value; normal; churn_risk.; "
        "column language: Choose one of: en; zh-hans." in html.unescape(english)
    )


def _preview_checks(page: str) -> list[str]:
    table = re.search(r'data-testid="import-preview">(.*?)</table>', page, re.S)
    assert table is not None
    rows = re.findall(r"<tr>(.*?)</tr>", table.group(1), re.S)[1:]
    return [
        " ".join(
            html.unescape(
                re.sub(r"<[^>]+>", " ", re.findall(r"<td>(.*?)</td>", row, re.S)[-1])
            ).split()
        )
        for row in rows
    ]


def test_customer_preview_says_which_rows_update_a_known_customer(staff_client: Client) -> None:
    # given C-1 and C-2 are known customers; the file renames C-1, repeats C-2, adds C-3
    Customer.objects.create(external_id="C-1", name="Old name", segment=Segment.NORMAL)
    Customer.objects.create(external_id="C-2", name="Ann", segment=Segment.HIGH_VALUE)
    content = "id,name,segment\nC-1,Li Wei,normal\nC-2,Ann,high_value\nC-3,Bo,normal\n"
    job = check(upload(content, kind="customers"), {0: "external_id", 1: "name", 2: "segment"})

    page = staff_client.get(f"/imports/{job.pk}/").content.decode()

    # then the preview tells what the import will do with each (none is "skipped")
    assert _preview_checks(page) == [
        "updates an existing customer: Name",
        "a known customer, unchanged",
        "OK",
    ]
    chinese = staff_client.get(
        f"/imports/{job.pk}/", HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9"
    ).content.decode()
    assert _preview_checks(chinese)[:2] == ["将更新已有客户：姓名", "已有客户，无变化"]
    # and the import does just that
    done = run(job)
    assert (done.rows_imported, done.rows_updated, done.rows_skipped) == (1, 1, 1)
    assert Customer.objects.get(external_id="C-1").name == "Li Wei"


def test_preview_of_a_row_imported_before_as_a_test_response_says_it_is_imported_again(
    staff_client: Client, nps_survey: Survey
) -> None:
    # given R-1 was imported and then marked as a test; R-2 was imported and counts
    content = RESPONSES_HEADER + "R-1,2025-05-01 10:00,,,,9,\nR-2,2025-05-01 11:00,,,,7,\n"
    run(check(upload(content, survey=nps_survey), nps_columns(nps_survey)))
    Response.objects.filter(import_key="R-1").update(is_test=True)

    # when the same file is checked again
    again = check(upload(content, survey=nps_survey), nps_columns(nps_survey))
    page = staff_client.get(f"/imports/{again.pk}/").content.decode()

    # then only R-2 is "imported before" (the test response gives its key up to R-1)
    assert again.rows_existing == 1
    assert _preview_checks(page) == ["OK", "imported before: skipped"]
    assert "1 of them was imported before and will be skipped" in page
    done = run(again)
    assert (done.rows_imported, done.rows_skipped) == (1, 1)


def test_chinese_mapping_error_enumerates_the_missing_columns_with_the_enumeration_comma(
    staff_client: Client, nps_survey: Survey
) -> None:
    job = upload(RESPONSES_HEADER + "R-1,2025-05-01 10:00,,,,9,\n", survey=nps_survey)

    response = staff_client.post(
        f"/imports/{job.pk}/mapping/",
        {"column_0": "key"},
        HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9",
    )

    found = re.search(
        r"请为以下每一项映射一列：(.*?)。</p>", html.unescape(response.content.decode())
    )
    assert found is not None
    missing = found.group(1)
    assert missing.startswith("提交时间、Q1. ")
    assert ", " not in missing


def test_opening_the_upload_address_leads_to_the_import_list_with_its_form(
    staff_client: Client, manager_client: Client, nps_survey: Survey
) -> None:
    # given the address bar shows /imports/upload/ (after a refused upload) and Enter is pressed
    response = staff_client.get("/imports/upload/")
    # then the browser is led to the import list, where the upload form is
    assert response.status_code == 302
    assert response["Location"] == "/imports/"
    assert "Upload and map the columns" in staff_client.get("/imports/").content.decode()
    # and a preselected survey is kept; a reader who cannot upload is led there too
    kept = staff_client.get(f"/imports/upload/?survey={nps_survey.pk}")
    assert kept["Location"] == f"/imports/?survey={nps_survey.pk}"
    assert manager_client.get("/imports/upload/")["Location"] == "/imports/"
    # and nothing was created
    assert not ImportJob.objects.exists()


def test_the_upload_form_lists_surveys_by_their_title_in_the_readers_language(
    staff_client: Client, nps_survey: Survey
) -> None:
    # given a survey written in English with a Chinese title, and one without a translation
    nps_survey.translations = {"zh-hans": {"title": "到店体验调查"}}
    nps_survey.save()
    plain = Survey.objects.create(title="Delivery", created_by=nps_survey.created_by)
    # when a Chinese reader opens the import page
    staff_client.cookies["django_language"] = "zh-hans"
    page = staff_client.get("/imports/").content.decode()
    # then the survey menu shows the Chinese title, and the default one where there is none
    assert f'<option value="{nps_survey.pk}">到店体验调查</option>' in page
    assert f'<option value="{plain.pk}">Delivery</option>' in page
    assert f">{nps_survey.title}</option>" not in page
