"""Every dashboard table, and the raw responses behind it, as CSV or XLSX.

A text cell that a spreadsheet would run as a formula (it starts with =, +, -, @, a tab or a
carriage return) gets a leading apostrophe, so it is shown as text. Numbers stay numbers.
The raw responses are streamed: CSV row by row, XLSX through openpyxl's write-only mode
into a temporary file, so a large export never sits in memory.
"""

from __future__ import annotations

import csv
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.http import FileResponse, HttpResponseBase, StreamingHttpResponse
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from openpyxl import Workbook

from metrics import dashboard, selectors
from metrics.periods import Quarter, reporting_zone
from surveys.models import Answer, Channel, Segment

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
RAW_RESPONSES = "responses"
CHUNK_ROWS = 2000
DERIVED_DECIMALS = 2
Row = list[Any]


def neutralise(value: Any) -> Any:
    """A cell value safe for a spreadsheet: text that could start a formula is quoted."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def rounded(value: Any) -> Any:
    """A derived figure rounded for a person: two decimals, one more than the page shows (a
    progress fraction of 0.63 reads as the page's 63%); whole numbers and text unchanged.
    The API keeps every figure unrounded (metrics.md: round only for display)."""
    if isinstance(value, float):
        return round(value, DERIVED_DECIMALS) + 0.0  # + 0.0: never "-0.0"
    return value


@dataclass(frozen=True)
class Table:
    title: Any
    build: Callable[[Quarter, dashboard.Filters], tuple[Row, Iterable[Row]]]


def _targets(quarter: Quarter, filters: dashboard.Filters) -> tuple[Row, Iterable[Row]]:
    headers = [
        _("Metric"), _("Actual"), "n", _("95% margin"),
        # Not format strings: "% l" and "% h" only look like directives to xgettext.
        # xgettext:no-python-format
        _("95% low"),
        # xgettext:no-python-format
        _("95% high"),
        _("Change on last quarter"), _("Significant"), _("Baseline"), _("Quarter target"),
        _("Annual target"), _("Stretch target"), _("Benchmark"), _("Gap"), _("Progress"),
        _("Status"),
    ]  # fmt: skip
    rows = []
    for row in dashboard.target_rows_for(quarter, filters):
        data = dashboard.row_as_dict(row)
        rows.append(
            [
                data["label"],
                data["actual"],
                data["n"],
                data["margin"],
                data["low"],
                data["high"],
                data["change"],
                data["change_significant"],
                data["baseline"],
                data["quarter_target"],
                data["annual_target"],
                data["stretch"],
                data["benchmark"],
                data["gap"],
                data["progress"],
                row.status_label,
            ]
        )
    return headers, rows


def _trends(quarter: Quarter, filters: dashboard.Filters) -> tuple[Row, Iterable[Row]]:
    headers = [_("Metric"), _("Quarter"), _("Actual"), "n", _("Quarter target"), _("Benchmark")]
    rows = []
    for metric, points in dashboard.quarter_view(quarter, filters).trends.items():
        label = str(selectors.METRICS[metric].label)
        for point in points:
            n = point.figure.n if point.figure is not None else None
            rows.append(
                [label, point.quarter.label, point.actual, n, point.target, point.benchmark]
            )
    return headers, rows


def _repurchase(quarter: Quarter, filters: dashboard.Filters) -> tuple[Row, Iterable[Row]]:
    headers = [_("Scale"), _("Score band"), _("Answers"), _("Repurchased"), _("Rate %"),
               _("95% low"), _("95% high"), _("Window open")]  # fmt: skip
    tables = selectors.repurchase_table(quarter.label, filters or None)
    rows = [
        [
            dashboard.scale_label(name),
            dashboard.band_label(row["band"]),
            row["n"],
            row["repurchased"],
            row["rate"],
            row["low"],
            row["high"],
            row["window_open"],
        ]
        for name, table in tables.items()
        for row in table
    ]
    return headers, rows


def _distribution(quarter: Quarter, filters: dashboard.Filters) -> tuple[Row, Iterable[Row]]:
    headers = [_("Scale"), _("Score"), _("Answers"), _("Share %")]
    rows = [
        [dashboard.scale_label(name), row["score"], row["count"], row["share"]]
        for name, table in dashboard.distribution_for(quarter, filters).items()
        for row in table
    ]
    return headers, rows


def _composition(quarter: Quarter, filters: dashboard.Filters) -> tuple[Row, Iterable[Row]]:
    figure = selectors.period_figure(quarter.label, "nps", filters or None)
    rows = [[p["label"], p["count"], p["share"]] for p in dashboard.nps_composition(figure)]
    return [_("Group"), _("Answers"), _("Share %")], rows


def _dimensions(quarter: Quarter, filters: dashboard.Filters) -> tuple[Row, Iterable[Row]]:
    headers = [_("Dimension"), _("Score (0-100)"), "n", _("Weight %")]
    rows = [
        [row["name"], row["score"], row["n"], row["weight"]]
        for row in dashboard.dimension_rows(quarter.label, filters)
    ]
    composite = selectors.period_figure(quarter.label, "composite", filters or None)
    if composite is not None:
        rows.append([str(_("Composite index")), composite.value, composite.n, None])
    return headers, rows


def _pareto(quarter: Quarter, filters: dashboard.Filters) -> tuple[Row, Iterable[Row]]:
    headers = [_("Complaint category"), _("Root cause"), _("Complaints"), _("Customers"),
               _("Share %"), _("Cumulative %"), _("Vital few")]  # fmt: skip
    rows = [
        [
            row["name"],
            row["root_cause_label"],
            row["complaints"],
            row["customers"],
            row["share"],
            row["cumulative"],
            row["is_vital_few"],
        ]
        for row in dashboard.pareto_for(quarter, filters)
    ]
    return headers, rows


def _segments(quarter: Quarter, filters: dashboard.Filters) -> tuple[Row, Iterable[Row]]:
    headers = [_("Segment"), _("Sample size"), _("Mean score (0-100)"), _("Weakest dimension"),
               _("Most frequent problem"), _("Problem frequency %"), _("Customers affected"),
               _("Gap to quarter target"), _("Priority")]  # fmt: skip
    rows = [
        [
            row["label"],
            row["n"],
            row["mean_score"],
            row["weakest_dimension"],
            row["top_problem"],
            row["problem_share"],
            row["customers_affected"],
            row["gap"],
            str(dashboard.PRIORITY_LABELS[row["priority"]]),
        ]
        for row in dashboard.segment_status(quarter, filters)
    ]
    return headers, rows


TABLES: dict[str, Table] = {
    "targets": Table(gettext_lazy("Metrics against targets"), _targets),
    "trends": Table(gettext_lazy("Trends"), _trends),
    "repurchase": Table(gettext_lazy("Repurchase by score band"), _repurchase),
    "distribution": Table(gettext_lazy("Score distribution"), _distribution),
    "composition": Table(gettext_lazy("NPS composition"), _composition),
    "dimensions": Table(gettext_lazy("Dimension scores"), _dimensions),
    "pareto": Table(gettext_lazy("Complaint categories (Pareto)"), _pareto),
    "segments": Table(gettext_lazy("Segment status"), _segments),
}


def _local(moment: datetime | None) -> str:
    return moment.astimezone(reporting_zone()).strftime("%Y-%m-%d %H:%M:%S") if moment else ""


def raw_response_rows(quarter: Quarter, filters: dashboard.Filters) -> tuple[Row, Iterator[Row]]:
    """One row per answer of the counted responses of the quarter and filters."""
    headers = [_("Response"), _("Submitted at"), _("Survey"), _("Channel code"), _("Channel"),
               _("Touchpoint"), _("Segment code"), _("Segment"), _("Team"), _("Agent"),
               _("Customer"), _("Question"), _("Grid row"), _("Score"), _("Choice"),
               _("Text")]  # fmt: skip
    # The codes stay for machines (filters, joins); the labels beside them are for people, in
    # the reader's language, worded now: the rows stream after the view has returned.
    channels = {code: str(label) for code, label in Channel.choices}
    segments = {code: str(label) for code, label in Segment.choices}
    responses = dashboard.drilldown_responses(quarter, filters, "").values("pk")
    answers = (
        Answer.objects.filter(response_id__in=responses)
        .order_by("response_id", "question__position", "grid_row__position", "pk")
        .values_list(
            "response_id",
            "response__submitted_at",
            "response__survey__title",
            "response__channel",
            "response__touchpoint__name",
            "response__segment",
            "response__team__name",
            "response__agent__username",
            "response__customer__external_id",
            "response__survey__is_anonymous",
            "question__text",
            "grid_row__label",
            "number",
            "choice__label",
            "text",
        )
    )

    def rows() -> Iterator[Row]:
        for (response_id, submitted, survey, channel, touchpoint, segment, team, agent,
             customer, is_anonymous, question, grid_row, number, choice,
             text) in answers.iterator(chunk_size=CHUNK_ROWS):  # fmt: skip
            yield [
                response_id, _local(submitted), survey, channel, channels.get(channel, channel),
                touchpoint or "", segment, segments.get(segment, segment), team or "",
                agent or "", "" if is_anonymous else (customer or ""), question, grid_row or "",
                number, choice or "", text,
            ]  # fmt: skip

    return headers, rows()


class _Echo:
    """A file-like object whose write returns the line, for streaming csv.writer output."""

    def write(self, value: str) -> str:
        return value


def _csv_cell(cell: Any, yes_no: tuple[str, str]) -> Any:
    if cell is None:
        return ""
    if isinstance(cell, bool):  # a flag reads as a word of the reader's language, not True
        return yes_no[0] if cell else yes_no[1]
    return neutralise(cell)


def _csv_lines(headers: Row, rows: Iterable[Row]) -> Iterator[str]:
    # Worded now, in the request's language: the rows stream after the view has returned.
    yes_no = (str(_("Yes")), str(_("No")))
    header = [neutralise(str(cell)) for cell in headers]

    def lines() -> Iterator[str]:
        writer = csv.writer(_Echo())
        yield "\ufeff"  # a byte-order mark so that spreadsheets read UTF-8 (Chinese text)
        yield writer.writerow(header)
        for row in rows:
            yield writer.writerow([_csv_cell(cell, yes_no) for cell in row])

    return lines()


def xlsx_write(headers: Row, rows: Iterable[Row], title: str, target: Any) -> None:
    """Write one sheet in write-only mode (constant memory) to a file object."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=title[:31])
    sheet.append([neutralise(str(cell)) for cell in headers])
    for row in rows:
        sheet.append([neutralise(cell) for cell in row])
    workbook.save(target)


def export_response(
    table: str, file_format: str, quarter: Quarter, filters: dashboard.Filters
) -> HttpResponseBase:
    """The HTTP response carrying a table (or the raw responses) as CSV or XLSX."""
    if table == RAW_RESPONSES:
        headers, rows = raw_response_rows(quarter, filters)
        title = str(_("Responses"))
    else:
        headers, built = TABLES[table].build(quarter, filters)
        rows = ([rounded(cell) for cell in row] for row in built)
        title = str(TABLES[table].title)
    suffix = "-".join(
        [quarter.label, *(slugify(f"{kind}-{value}") for kind, value in filters.items())]
    )
    filename = f"csat-{table}-{suffix}.{file_format}"
    if file_format == "csv":
        response = StreamingHttpResponse(
            _csv_lines(headers, rows), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response
    spool = tempfile.TemporaryFile()  # noqa: SIM115 (FileResponse closes it once sent)
    xlsx_write(headers, rows, title, spool)
    spool.seek(0)
    return FileResponse(
        spool,
        as_attachment=True,
        filename=filename,
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
