"""Uploaded files: formats, encodings (UTF-8 with or without a BOM, GBK), workbooks, limits;
formula-looking cells stay text."""

from __future__ import annotations

import io
import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from openpyxl import Workbook

from csat.errors import ApplicationError
from surveys.imports.models import ImportJob
from surveys.models import Answer, Customer, Response, Survey
from tests.surveys.import_support import check, nps_columns, run, upload

SHANGHAI = ZoneInfo("Asia/Shanghai")
CHINESE = "客户编号,姓名,客户分层\nC-1,李伟,高价值\nC-2,王芳,普通\n"


def _refused(content: bytes, name: str = "file.csv") -> ApplicationError:
    with pytest.raises(ApplicationError) as refused:
        upload(content, kind=ImportJob.Kind.CUSTOMERS, name=name)
    assert not ImportJob.objects.exists()
    return refused.value


def _workbook(rows: list[list[object]]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def test_utf8_with_a_bom_is_read_without_the_bom_in_the_first_header(db: None) -> None:
    job = upload(b"\xef\xbb\xbf" + CHINESE.encode(), kind=ImportJob.Kind.CUSTOMERS)

    assert (job.file_format, job.encoding, job.delimiter) == ("csv", "utf-8-sig", ",")
    assert job.headers == ["客户编号", "姓名", "客户分层"]
    assert job.preview == [[2, ["C-1", "李伟", "高价值"]], [3, ["C-2", "王芳", "普通"]]]
    # the Chinese headers map themselves
    assert job.mapping == {"external_id": 0, "name": 1, "segment": 2}


def test_a_gbk_export_is_read_as_gbk_and_imported(db: None) -> None:
    job = upload(CHINESE.encode("gbk"), kind=ImportJob.Kind.CUSTOMERS)
    assert (job.encoding, job.headers[1]) == ("gb18030", "姓名")

    job = run(check(job, {0: "external_id", 1: "name", 2: "segment"}))

    assert sorted(Customer.objects.values_list("external_id", "name", "segment")) == [
        ("C-1", "李伟", "high_value"),
        ("C-2", "王芳", "normal"),
    ]


def test_a_file_neither_utf8_nor_gbk_is_refused_with_a_clear_message(db: None) -> None:
    refused = _refused(b"id,name\nC-1,caf\x80\xff\n")

    assert refused.message == (
        "The file is neither UTF-8 nor GBK text: save it as CSV UTF-8 and upload it again."
    )
    assert refused.fields == {"file": [refused.message]}


def test_utf16_text_is_refused_naming_its_encoding(db: None) -> None:
    refused = _refused("id,name\nC-1,Ann\n".encode("utf-16"))

    assert refused.message == "The file is UTF-16 text: save it as CSV UTF-8 and upload it again."


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        (
            "export.xls",
            b"\xd0\xcf\x11\xe0rest",
            "Unknown file format .xls: upload a .csv or .xlsx file.",
        ),
        ("report.pdf", b"%PDF-1.7", "Unknown file format .pdf: upload a .csv or .xlsx file."),
        (
            "export.csv",
            b"PK\x03\x04rest",
            "This is a spreadsheet, not CSV text: upload it as .xlsx or save it as CSV.",
        ),
        (
            "broken.xlsx",
            b"PK\x03\x04not really a zip",
            "This file is not a valid .xlsx workbook: open it and save it again.",
        ),
        ("empty.csv", b"id,name\n", "The file has a header but no rows under it."),
        ("binary.csv", b"id,name\x00\x00\n1,2\n", "The file holds binary data, not CSV text."),
    ],
)
def test_unknown_or_unreadable_files_are_refused_and_nothing_is_stored(
    db: None, name: str, content: bytes, message: str
) -> None:
    assert _refused(content, name).message == message


def test_a_file_over_the_size_limit_is_refused(db: None, settings: object) -> None:
    settings.IMPORT_MAX_FILE_MB = 1  # type: ignore[attr-defined]

    refused = _refused(b"id,name\n" + b"C-1,Ann\n" * 140_000)

    assert refused.message == "The file is larger than the 1 MB limit: split it into smaller files."
    assert refused.status_code == 413


def test_a_workbook_that_unpacks_over_the_limit_is_refused_and_nothing_is_stored(
    db: None, settings: object
) -> None:
    # given a small .xlsx whose repetitive sheet compresses well (a zip bomb in miniature)
    settings.IMPORT_MAX_XLSX_UNPACKED_MB = 1  # type: ignore[attr-defined]
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["id", "name"])
    for index in range(30_000):
        sheet.append([f"C-{index}", "the same long name " * 3])
    content = io.BytesIO()
    book.save(content)
    assert len(content.getvalue()) < 1024 * 1024

    # when it is uploaded / then it is refused before it is read, naming the limit
    refused = _refused(content.getvalue(), "panel.xlsx")
    assert refused.message == (
        "The workbook unpacks to more than 1 MB: split it into smaller files."
    )
    assert not ImportJob.objects.exists()


def test_semicolon_and_tab_separated_files_are_recognised(db: None) -> None:
    semicolons = upload(b"id;name\nC-1;Ann, Jr.\n", kind=ImportJob.Kind.CUSTOMERS)
    tabs = upload(b"id\tname\nC-2\tBo\n", kind=ImportJob.Kind.CUSTOMERS, name="x.tsv")

    assert (semicolons.delimiter, semicolons.preview) == (";", [[2, ["C-1", "Ann, Jr."]]])
    assert (tabs.delimiter, tabs.preview) == ("\t", [[2, ["C-2", "Bo"]]])


@time_machine.travel(datetime(2025, 6, 30, tzinfo=SHANGHAI), tick=False)
def test_a_workbook_is_read_from_its_first_sheet_with_formulas_kept_as_text(
    nps_survey: Survey,
) -> None:
    content = _workbook(
        [
            ["response_id", "submitted_at", "customer", "agent", "touchpoint", "score", "why"],
            [
                "X-1",
                datetime(2025, 5, 1, 9, 30),  # noqa: DTZ001 (a sheet's times have no zone)
                None,
                None,
                None,
                9,
                '=HYPERLINK("http://x")',
            ],
            [],
            [1002, "2025/5/2 8:05", None, None, None, 9.0, "=1+2"],
        ]
    )
    job = upload(content, survey=nps_survey, name="panel.xlsx")
    assert job.file_format == "xlsx"
    assert job.preview[0] == [
        2,
        ["X-1", "2025-05-01 09:30:00", "", "", "", "9", '=HYPERLINK("http://x")'],
    ]

    job = run(check(job, nps_columns(nps_survey)))

    # the blank row is passed over; row numbers are the sheet's
    assert (job.rows_total, job.rows_imported) == (2, 2)
    assert list(
        Response.objects.order_by("import_key").values_list("import_key", "submitted_at")
    ) == [
        ("1002", datetime(2025, 5, 2, 8, 5, tzinfo=SHANGHAI)),
        ("X-1", datetime(2025, 5, 1, 9, 30, tzinfo=SHANGHAI)),
    ]
    # a formula is stored as the text it is, never evaluated
    assert sorted(Answer.objects.exclude(text="").values_list("text", flat=True)) == [
        "=1+2",
        '=HYPERLINK("http://x")',
    ]


def test_a_bad_byte_past_the_recognised_start_fails_the_check_naming_the_rows_read(
    db: None,
) -> None:
    # given a UTF-8 file whose start is fine and which has a stray byte 80 KB in
    good_rows = 8000
    content = b"id,name\n" + b"".join(b"C-%05d,Name\n" % index for index in range(good_rows))
    job = upload(content + b"C-99999,\x80\n", kind=ImportJob.Kind.CUSTOMERS)
    assert job.encoding == "utf-8"

    job = check(job, {0: "external_id", 1: "name"})

    assert job.status == "failed"
    read = re.fullmatch(r"The file is not valid UTF-8 text after row (\d+)\.", job.message)
    assert read is not None
    assert 1 < int(read.group(1)) <= good_rows + 1
    assert not job.parts.exists()
    assert not Customer.objects.exists()
