"""Exports: every table as CSV and XLSX, raw responses with the filters, formulas neutralised."""

from __future__ import annotations

import csv
import io

import pytest
from django.http import StreamingHttpResponse
from django.test import Client
from openpyxl import load_workbook

from metrics import exports
from tests.metrics import dashboard_fixtures
from tests.metrics.dashboard_fixtures import DashboardData

dashboard_module_data = dashboard_fixtures.dashboard_module_data
data = dashboard_fixtures.data


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+2", "'=1+2"),
        ("+cmd", "'+cmd"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("fine = yes", "fine = yes"),
        ("", ""),
        (-3.5, -3.5),
        (None, None),
    ],
)
def test_cells_that_could_start_a_formula_are_quoted(value: object, expected: object) -> None:
    assert exports.neutralise(value) == expected


def _csv(response: StreamingHttpResponse) -> list[list[str]]:
    text = b"".join(response.streaming_content).decode("utf-8-sig")  # type: ignore[arg-type]
    return list(csv.reader(io.StringIO(text)))


def test_raw_responses_stream_as_csv_with_the_filters_and_customer_text_neutralised(
    data: DashboardData, manager_client: Client
) -> None:
    # given 2026Q3 web responses whose free text starts with = and @
    response = manager_client.get("/dashboard/export/responses.csv?period=2026Q3&channel=web")
    # then the export streams one row per answer of those two responses only
    assert response.status_code == 200
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Disposition"] == (
        'attachment; filename="csat-responses-2026Q3-channel-web.csv"'
    )
    rows = _csv(response)
    assert rows[0][:8] == [
        "Response", "Submitted at", "Survey", "Channel code", "Channel", "Touchpoint",
        "Segment code", "Segment",
    ]  # fmt: skip
    web = [r.pk for r in data.responses if r.quarter == "2026Q3" and r.channel == "web"]
    assert sorted({int(row[0]) for row in rows[1:]}) == sorted(web)
    texts = [row[15] for row in rows[1:] if row[15]]
    assert texts == ['\'=HYPERLINK("http://evil.example","click")', "'@SUM(A1:A2) great"]
    scores = [row[13] for row in rows[1:] if row[13]]
    assert scores == ["4", "9"]


def test_raw_responses_as_xlsx_open_in_openpyxl_with_no_formula(
    data: DashboardData, manager_client: Client
) -> None:
    response = manager_client.get("/dashboard/export/responses.xlsx?period=2026Q3")
    assert response.status_code == 200
    content = b"".join(response.streaming_content)  # type: ignore[attr-defined]
    sheet = load_workbook(io.BytesIO(content)).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    assert len(rows) == 1 + 8 + 2  # header, 8 scores, 2 texts
    texts = [row[15] for row in rows[1:] if row[15]]
    assert texts == ['\'=HYPERLINK("http://evil.example","click")', "'@SUM(A1:A2) great"]
    # no cell is a formula, and scores stay numbers
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)
    assert [row[13] for row in rows[1:] if row[13] is not None] == [10, 10, 9, 9, 8, 2, 4, 9]


def test_dashboard_table_as_xlsx_carries_the_page_numbers(
    data: DashboardData, manager_client: Client
) -> None:
    response = manager_client.get("/dashboard/export/targets.xlsx?period=2026Q2")
    content = b"".join(response.streaming_content)  # type: ignore[attr-defined]
    sheet = load_workbook(io.BytesIO(content)).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    header = rows[0]
    nps = next(row for row in rows if row[0] == "NPS")
    record = dict(zip(header, nps, strict=True))
    assert record["Actual"] == 33.33  # 100 * 4 / 12, to two decimals
    assert record["n"] == 12
    assert record["Baseline"] == 42
    assert record["Quarter target"] == 49.11  # 42 + 16 * 8 / 18
    assert record["Benchmark"] == 65
    assert record["Status"] == "missed"


@pytest.mark.parametrize("table", sorted(exports.TABLES))
def test_every_table_exports_as_csv_and_xlsx(
    data: DashboardData, manager_client: Client, table: str
) -> None:
    csv_response = manager_client.get(f"/dashboard/export/{table}.csv?period=2026Q3")
    assert csv_response.status_code == 200
    assert len(_csv(csv_response)) >= 1
    xlsx_response = manager_client.get(f"/dashboard/export/{table}.xlsx?period=2026Q3")
    assert xlsx_response.status_code == 200
    content = b"".join(xlsx_response.streaming_content)  # type: ignore[attr-defined]
    assert load_workbook(io.BytesIO(content)).active is not None


def test_export_with_a_bad_filter_is_refused_with_the_field_named(
    data: DashboardData, manager_client: Client
) -> None:
    response = manager_client.get("/dashboard/export/targets.csv?period=soon")
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {
        "period": ["“soon” is not a quarter such as 2025Q1."]
    }
    assert manager_client.get("/dashboard/export/nothing.csv").status_code == 404


def test_flags_in_a_csv_read_as_words_of_the_managers_language_not_true_or_false(
    data: DashboardData, manager_client: Client
) -> None:
    english = _csv(manager_client.get("/dashboard/export/pareto.csv?period=2026Q3"))
    manager_client.cookies["django_language"] = "zh-hans"
    chinese = _csv(manager_client.get("/dashboard/export/pareto.csv?period=2026Q3"))

    assert english[0][-1] == "Vital few"
    assert [row[-1] for row in english[1:]] == ["Yes", "Yes"]
    assert chinese[0][-1] == "关键少数"
    assert [row[-1] for row in chinese[1:]] == ["是", "是"]
    significant = _csv(manager_client.get("/dashboard/export/targets.csv?period=2026Q3"))
    assert {row[7] for row in significant[1:]} <= {"是", "否", ""}


def test_raw_responses_carry_channel_and_segment_codes_and_their_labels_in_the_readers_language(
    data: DashboardData, manager_client: Client
) -> None:
    # given the 2026Q3 web responses of a high-value and a churn-risk customer
    url = "/dashboard/export/responses.csv?period=2026Q3&channel=web"
    english = _csv(manager_client.get(url))
    manager_client.cookies["django_language"] = "zh-hans"
    chinese = _csv(manager_client.get(url))
    # then each row has the codes for machines and the labels for people, in their language
    assert {tuple(row[3:5]) for row in english[1:]} == {("web", "Web link")}
    assert {tuple(row[6:8]) for row in english[1:]} == {
        ("high_value", "High-value"),
        ("churn_risk", "Churn risk"),
    }
    assert chinese[0][3:8] == ["渠道代码", "渠道", "触点", "客户分群代码", "客户分群"]
    assert {tuple(row[3:5]) for row in chinese[1:]} == {("web", "网页链接")}
    assert {row[7] for row in chinese[1:]} == {"高价值", "流失风险"}


def test_derived_figures_are_rounded_to_two_decimals_in_the_table_exports(
    data: DashboardData, manager_client: Client
) -> None:
    rows = _csv(manager_client.get("/dashboard/export/targets.csv?period=2026Q2"))
    nps = dict(zip(rows[0], next(row for row in rows if row[0] == "NPS"), strict=True))
    assert nps["Actual"] == "33.33"
    assert nps["Quarter target"] == "49.11"
    assert nps["n"] == "12"
    shares = _csv(manager_client.get("/dashboard/export/composition.csv?period=2026Q2"))
    assert all(len(row[2].partition(".")[2]) <= 2 for row in shares[1:])
