# ruff: noqa: RUF001
"""The quarterly dashboard: the same numbers as the API, filters in the URL, drill-down to the
source rows, analysis views, and the strict Content-Security-Policy."""

from __future__ import annotations

import html
import re
from datetime import date

import pytest
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.test import Client
from django.urls import path
from django.utils import translation

from accounts.models import User
from csat import urls as csat_urls
from metrics import dashboard, selectors, views
from metrics.periods import Quarter
from metrics.services import weights_set
from surveys.models import Dimension
from tests.metrics import dashboard_fixtures
from tests.metrics.dashboard_fixtures import DashboardData

dashboard_module_data = dashboard_fixtures.dashboard_module_data
data = dashboard_fixtures.data


def _cells(page: str, metric: str) -> dict[str, str]:
    row = re.search(rf'<tr data-metric="{metric}">(.*?)</tr>', page, re.S)
    assert row is not None, metric
    cells = re.findall(r'data-cell="(\w+)"[^>]*>(.*?)</td>', row.group(1), re.S)
    return {
        name: " ".join(html.unescape(re.sub(r"<[^>]+>", " ", text)).split()) for name, text in cells
    }


def _one_decimal(value: float | None) -> str:
    return f"{round(value, 1) + 0.0:.1f}" if value is not None else "No data"


@pytest.mark.parametrize(
    "query",
    [
        "period=2026Q2",
        "period=2026Q3",
        "period=2026Q3&channel=email",
        "period=2026Q2&segment=high_value",
    ],
)
def test_page_shows_the_numbers_of_the_metrics_api_for_the_same_filters(
    data: DashboardData, manager_client: Client, query: str
) -> None:
    # given the dashboard and the metrics API asked for the same quarter and filters
    page = manager_client.get(f"/dashboard/?{query}").content.decode()
    api = manager_client.get(f"/api/v1/metrics/?{query}").json()
    status = manager_client.get(f"/api/v1/targets/status/?{query}").json()
    # then every metric's actual and n on the page are the API's, rounded for display
    assert len(api["metrics"]) >= 7
    for figure in api["metrics"]:
        cells = _cells(page, figure["metric"])
        unit = "" if figure["metric"] in {"nps", "satisfaction", "ces", "composite"} else "%"
        unit = "h" if figure["metric"] == "first_response_time" else unit
        expected = _one_decimal(figure["value"])
        assert cells["actual"].startswith(expected + (unit if figure["value"] is not None else ""))
        assert cells["n"] == str(figure["n"])
    # and the target columns are those of the target status API
    nps = next(row for row in status["rows"] if row["metric"] == "nps")
    cells = _cells(page, "nps")
    assert cells["quarter_target"] == _one_decimal(nps["quarter_target"])
    assert cells["baseline"] == "42.0"
    assert cells["benchmark"] == "65.0"
    assert cells["stretch"] == "62.0"


def test_nps_against_target_with_gap_progress_and_status(
    data: DashboardData, manager_client: Client
) -> None:
    # given 2026Q2 NPS: 12 answers, 7 promoters, 3 detractors -> 100 * 4 / 12 = 33.3
    page = manager_client.get("/dashboard/?period=2026Q2").content.decode()
    cells = _cells(page, "nps")
    # then against the Q2 target 49.11 it is 15.8 short, 8 % of the way from 42 to 58 ... below
    # the baseline: progress (33.33 - 42) / 16 = -54 %, a closed quarter: missed
    assert cells["actual"] == "33.3 low n"
    assert cells["n"] == "12"
    assert cells["quarter_target"] == "49.1"
    assert cells["gap"] == "-15.8"
    assert cells["progress"] == "-54%"
    assert cells["status"] == "missed"


def test_current_quarter_short_of_target_is_in_progress_and_change_is_shown(
    data: DashboardData, manager_client: Client
) -> None:
    page = manager_client.get("/dashboard/?period=2026Q3").content.decode()
    cells = _cells(page, "nps")
    # 8 answers: 5 promoters, 2 detractors -> 37.5; change on Q2: 37.5 - 33.3 = +4.2
    assert cells["actual"] == "37.5 low n"
    assert cells["change"] == "+4.2"
    assert cells["status"] == "in progress"


def test_quarter_without_answers_shows_no_data_never_zero(
    data: DashboardData, manager_client: Client
) -> None:
    page = manager_client.get("/dashboard/?period=2026Q1").content.decode()
    cells = _cells(page, "nps")
    assert cells["actual"] == "No data"
    assert cells["status"] == "no data"
    assert cells["gap"] == "—"


def test_filters_are_kept_in_the_url_and_in_every_link(
    data: DashboardData, manager_client: Client
) -> None:
    team = data.teams[0].pk
    page = manager_client.get(f"/dashboard/?period=2026Q2&team={team}").content.decode()
    assert f'<option value="{team}" selected>Front desk</option>' in page
    assert f"/dashboard/responses/?period=2026Q2&amp;team={team}&amp;metric=nps" in page
    assert f"/dashboard/export/targets.xlsx?period=2026Q2&amp;team={team}" in page
    # a metric that has no team slice... every metric but the survey-less ones is listed;
    # with a survey filter the case metrics are not available
    survey_page = manager_client.get(f"/dashboard/?survey={data.survey.pk}").content.decode()
    assert _cells(survey_page, "complaint_rate") == {
        "actual": "Not available for these filters",
        "baseline": "—",
        "quarter_target": "—",
        "annual_target": "—",
        "stretch": "—",
        "benchmark": "—",
        "gap": "—",
        "progress": "—",
        "status": "no target",
    }


def test_bad_filters_are_named_with_a_400(data: DashboardData, manager_client: Client) -> None:
    response = manager_client.get("/dashboard/?period=2026Q9&channel=pigeon")
    assert response.status_code == 400
    page = response.content.decode()
    assert "“2026Q9” is not a quarter such as 2025Q1." in page
    assert "Unknown channel pigeon; use one of:" in page
    api = manager_client.get("/api/v1/targets/status/?period=2026Q9")
    assert api.status_code == 400
    assert api.json()["error"]["fields"]["period"] == ["“2026Q9” is not a quarter such as 2025Q1."]


def test_drill_down_lists_the_responses_behind_the_figure(
    data: DashboardData, manager_client: Client
) -> None:
    # given NPS on email in 2026Q2 has n = 8
    response = manager_client.get("/dashboard/responses/?period=2026Q2&channel=email&metric=nps")
    page = response.content.decode()
    # then the drill-down lists exactly those 8 responses, newest first
    assert response.status_code == 200
    assert "8 rows" in page
    expected = [r.pk for r in data.responses if r.quarter == "2026Q2" and r.channel == "email"]
    assert re.findall(r"<td>#(\d+)</td>", page) == [
        str(pk) for pk in sorted(expected, reverse=True)
    ]


def test_case_drill_down_shows_a_staff_member_only_their_team_cases(data: DashboardData) -> None:
    # given three complaints in 2026Q3, two served by agent0's team and one by agent1's
    staff: User = data.agents[0]
    quarter = Quarter(2026, 3)
    # when the cases behind the complaint rate are listed for the staff member and a manager
    mine = dashboard.drilldown_cases(quarter, {}, "complaint_rate", staff)
    # then the staff member sees only their own team's
    assert {case.team_id for case in mine} == {data.teams[0].pk}
    assert mine.count() == 2


def test_case_metric_drill_down_lists_cases(data: DashboardData, manager_client: Client) -> None:
    page = manager_client.get("/dashboard/responses/?period=2026Q3&metric=complaint_rate")
    assert "3 rows" in page.content.decode()


def test_analysis_page_has_pareto_segments_repurchase_and_composition(
    data: DashboardData, manager_client: Client
) -> None:
    response = manager_client.get("/dashboard/analysis/?period=2026Q3")
    page = response.content.decode()
    assert response.status_code == 200
    pareto = re.search(r'data-testid="pareto-table">(.*?)</table>', page, re.S)
    assert pareto is not None
    # 2 "Slow response" of 3 complaints: 66.7 % then 100 %: both needed to reach 80 %
    assert "Slow response" in pareto.group(1)
    assert pareto.group(1).count("vital few") == 2
    assert 'data-segment="high_value"' in page
    assert "Promoters (9-10)" in page
    assert 'data-chart="pareto"' in page


def _card_targets(page: str, metric: str) -> str:
    found = re.search(rf'data-testid="{metric}-targets">(.*?)</p>', page, re.S)
    assert found is not None, metric
    return " ".join(found.group(1).split())


def test_metric_card_names_the_quarter_target_the_annual_target_and_the_benchmark(
    data: DashboardData, manager_client: Client
) -> None:
    # given NPS 2026: baseline 42, annual target 58 (Q2 target 49.1), benchmark 65
    page = manager_client.get("/dashboard/?period=2026Q2").content.decode()
    # then the card says which target is which (not "Target 49.1 · year 58.0")
    assert _card_targets(page, "nps") == "Quarter target 49.1 · Annual target 58.0 · Benchmark 65.0"
    chinese = manager_client.get(
        "/dashboard/?period=2026Q2", HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9"
    ).content.decode()
    assert _card_targets(chinese, "nps") == "季度目标 49.1 · 年度目标 58.0 · 行业标杆 65.0"


def test_chinese_dashboard_names_the_metrics_in_the_briefs_terms(
    data: DashboardData, manager_client: Client
) -> None:
    page = manager_client.get(
        "/dashboard/?period=2026Q3", HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9"
    ).content.decode()

    def label(metric: str) -> str:
        found = re.search(rf'<tr data-metric="{metric}">\s*<th scope="row">([^<]+)', page)
        assert found is not None, metric
        return found.group(1).strip()

    # the brief: 非重复投诉解决率 (68% -> 85%), 首次呼叫解决率 (FCR, 76% -> 88%), 问题转化率
    assert label("nonrepeat_resolution") == "非重复投诉解决率"
    assert label("fcr") == "首次呼叫解决率（%）"
    assert label("operational_fcr") == "首次呼叫解决率（运营口径）"
    assert label("problem_conversion") == "问题转化率"
    assert label("nps") == "净推荐值 (NPS)"


def test_analysis_headings_name_the_scale_as_people_read_it(
    data: DashboardData, manager_client: Client
) -> None:
    page = manager_client.get("/dashboard/analysis/?period=2026Q3").content.decode()
    # the score distribution and the repurchase table of the NPS question
    assert page.count("<h3>NPS (0-10)</h3>") == 2
    assert "nps 0-10" not in page
    chinese = manager_client.get(
        "/dashboard/analysis/?period=2026Q3", HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9"
    ).content.decode()
    assert chinese.count("<h3>NPS（0-10 分）</h3>") == 2


def test_one_point_bands_read_as_the_point() -> None:
    assert [dashboard.band_label(band) for band in ["0-2", "9-10", "3-3"]] == ["0-2", "9-10", "3"]


@pytest.mark.parametrize(
    ("key", "english", "chinese"),
    [
        ("nps 0-10", "NPS (0-10)", "NPS（0-10 分）"),
        ("csat 1-5", "CSAT (1-5 stars)", "CSAT（1-5 星）"),
        ("csat 1-7", "CSAT (1-7)", "CSAT（1-7 分）"),
        ("ces 1-7", "CES (1-7)", "CES（1-7 分）"),
        ("rating 1-5", "Rating grid (1-5)", "矩阵评分（1-5 分）"),
    ],
)
def test_every_scale_key_has_a_readable_label(key: str, english: str, chinese: str) -> None:
    with translation.override("en"):
        assert dashboard.scale_label(key) == english
    with translation.override("zh-hans"):
        assert dashboard.scale_label(key) == chinese


def test_agent_filter_shows_full_names_in_name_order(
    data: DashboardData, manager_client: Client
) -> None:
    # given agent1 is Ada Lovelace, a new staff member zed is Bo Chen, agent0 has no name
    agent0, agent1 = data.agents
    User.objects.filter(pk=agent1.pk).update(first_name="Ada", last_name="Lovelace")
    zed = User.objects.create(username="zed", first_name="Bo", last_name="Chen", team=data.teams[0])
    page = manager_client.get(f"/dashboard/?period=2026Q3&agent={agent1.pk}").content.decode()
    select = re.search(r'<select name="agent" id="f-agent">(.*?)</select>', page, re.S)
    assert select is not None
    options = re.findall(r'<option value="(\d*)"( selected)?>([^<]*)</option>', select.group(1))
    # then each agent shows by full name (else username), ordered by that name
    assert options == [
        ("", "", "All"),
        (str(agent1.pk), " selected", "Ada Lovelace"),
        (str(agent0.pk), "", "agent0"),
        (str(zed.pk), "", "Bo Chen"),
    ]
    # and the per-agent figures name them the same way
    by_agent = selectors.slice_figures("2026Q3", "agent", "nps")
    assert [label for _member, label, _figure in by_agent] == ["Ada Lovelace", "agent0"]


def test_report_page_prints_every_table(data: DashboardData, manager_client: Client) -> None:
    response = manager_client.get("/dashboard/report/?period=2026Q2")
    page = response.content.decode()
    assert response.status_code == 200
    assert "css/report.css" in page
    assert re.search(
        r'<tr data-metric="nps">\s*<th scope="row">NPS</th>\s*<td class="num">33.3', page
    )


def test_staff_cannot_open_the_dashboard(data: DashboardData, staff_client: Client) -> None:
    assert staff_client.get("/dashboard/").status_code == 403
    assert staff_client.get("/dashboard/export/targets.csv").status_code == 403


# ---------------------------------------------------------------- Content-Security-Policy


def test_pages_carry_a_strict_policy_and_no_inline_script_or_style(
    data: DashboardData, manager_client: Client
) -> None:
    for url in ["/dashboard/", "/dashboard/analysis/", "/dashboard/report/", "/settings/targets/"]:
        response = manager_client.get(url)
        policy = response["Content-Security-Policy"]
        assert "script-src 'self'" in policy
        assert "style-src 'self'" in policy
        assert "unsafe-inline" not in policy
        page = response.content.decode()
        assert not re.search(r"<script(?![^>]*\bsrc=)", page), url
        assert not re.search(r"<style|\sstyle=|\son[a-z]+=", page), url


def _own_policy_view(request: HttpRequest) -> HttpResponse:
    response = HttpResponse("embedded")
    response["Content-Security-Policy"] = "frame-ancestors https://shop.example"
    return response


urlpatterns = [path("own-policy/", login_not_required(_own_policy_view)), *csat_urls.urlpatterns]


def test_a_view_that_sets_its_own_policy_keeps_it(
    client: Client, settings: object, db: None
) -> None:
    # given a view (like the embedded survey) that sets its own policy header
    settings.ROOT_URLCONF = __name__  # type: ignore[attr-defined]
    # when it answers / then the global policy does not replace it
    response = client.get("/own-policy/")
    assert response["Content-Security-Policy"] == "frame-ancestors https://shop.example"


def test_trend_tables_show_the_engine_metric_trend_for_every_quarter(
    data: DashboardData, manager_client: Client
) -> None:
    # given the trend charts' tables on a filtered dashboard
    page = manager_client.get("/dashboard/?period=2026Q3&channel=email").content.decode()
    labels = [quarter.label for quarter in dashboard.trend_quarters(Quarter(2026, 3))]
    for metric in ["nps", "response_rate", "complaint_resolution"]:
        table = re.search(rf'data-canvas="trend-{metric}">(.*?)</table>', page, re.S)
        assert table is not None, metric
        values = re.findall(r'<td class="num" data-value="([^"]*)">', table.group(1))[::3]
        # then each quarter's value is the engine's metric_trend for the same filters
        expected = selectors.metric_trend(metric, labels, {"channel": "email"})
        assert values == [
            repr(figure.value) if figure is not None and figure.value is not None else ""
            for figure in expected
        ], metric


def test_a_target_change_shows_at_once_without_a_recompute(
    data: DashboardData, manager_client: Client, admin_client_: Client
) -> None:
    # given 2026Q2 NPS 33.3 against the Q2 target 49.11 (missed)
    assert (
        _cells(manager_client.get("/dashboard/?period=2026Q2").content.decode(), "nps")["status"]
        == "missed"
    )
    # when an admin lowers the plan to 30 -> 40 (no rollup is touched)
    body = {"metric": "nps", "year": 2026, "baseline": 30, "target": 40, "benchmark": 65}
    assert (
        admin_client_.post("/api/v1/targets/", body, content_type="application/json").status_code
        == 201
    )
    # then the next read sets the same actual against Q2's new target 30 + 10 * 8/18 = 34.4
    cells = _cells(manager_client.get("/dashboard/?period=2026Q2").content.decode(), "nps")
    assert (cells["actual"], cells["quarter_target"], cells["status"]) == (
        "33.3 low n",
        "34.4",
        "missed",
    )
    assert cells["baseline"] == "30.0"


def test_dashboard_speaks_simplified_chinese(data: DashboardData, manager_client: Client) -> None:
    try:
        response = manager_client.get("/dashboard/?period=2026Q2", HTTP_ACCEPT_LANGUAGE="zh-hans")
    finally:
        translation.activate("en")  # the middleware leaves the thread's language set
    assert response.status_code == 200
    assert '<html lang="zh-hans">' in response.content.decode()


def test_drill_down_counts_no_further_than_its_cap(
    data: DashboardData, manager_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a cap of 5 rows (10,000 in production) and 8 email responses in 2026Q2
    monkeypatch.setattr(views, "DRILLDOWN_COUNT_CAP", 5)
    page = manager_client.get("/dashboard/responses/?period=2026Q2&channel=email&metric=nps")
    # then the page says there are more, and lists them
    assert "More than 5 rows; the first 5 are listed" in page.content.decode()


def test_drill_down_lists_only_responses_answering_the_metric(
    data: DashboardData, manager_client: Client
) -> None:
    # given NPS-only responses / when the composite index's responses are listed / then none
    page = manager_client.get("/dashboard/responses/?period=2026Q2&metric=composite")
    assert "0 rows" in page.content.decode()


def test_repurchase_of_the_current_quarter_says_why_windows_are_open_and_links_a_closed_one(
    data: DashboardData, manager_client: Client
) -> None:
    # given 2026Q3 (now 2026-08-15): its 8 answers were given on 2026-07-20, inside their
    # 90-day window; 2026Q2's answers (2026-05-10) have their windows closed
    response = manager_client.get("/dashboard/analysis/?period=2026Q3&channel=email")
    page = html.unescape(response.content.decode())
    note = re.search(r'data-testid="repurchase-window-note">(.*?)</p>', page, re.S)
    assert note is not None
    text = " ".join(re.sub(r"<[^>]+>", " ", note.group(1)).split())
    # then the page says why no band has a rate, when that changes, and where to look instead,
    # keeping the filters
    assert text == (
        "No band has a rate yet: all 6 answers of 2026Q3 are still inside their 90-day "
        "repurchase window, and a rate counts only closed windows. The quarter's last window "
        "closes on 2026-12-30. See 2026Q2, the latest quarter whose windows have closed"
    )
    assert 'href="?period=2026Q2&channel=email" data-testid="repurchase-closed-link"' in page
    # and that quarter has rates and no note
    closed = manager_client.get("/dashboard/analysis/?period=2026Q2&channel=email")
    assert 'data-testid="repurchase-window-note"' not in closed.content.decode()
    # with each band's 95% interval and, under 30 decided answers, the low-sample flag
    table = re.search(
        r'data-testid="repurchase-table">(.*?)</table>', closed.content.decode(), re.S
    )
    assert table is not None
    rows = dict(re.findall(r'<tr><th scope="row">(.*?)</th>(.*?)</tr>', table.group(1)))
    cells = {band: re.findall(r"<td[^>]*>(.*?)</td>", row) for band, row in rows.items()}
    assert [re.sub(r"<[^>]+>", "", cell) for cell in cells["3-4"][:2]] == [
        "0.0% low sample",
        "0.0–79.3%",
    ]
    assert cells["9-10"][1] == "0.0–49.0%"  # 0 of 4 answers
    assert cells["0-2"][1] == ""  # no answer, no interval
    chinese = manager_client.get(
        "/dashboard/analysis/?period=2026Q3&channel=email", HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9"
    ).content.decode()
    assert "全部 6 个回答仍在 90 天复购观察期内" in chinese
    assert "查看 2026Q2（观察期已全部结束的最近一个季度）" in chinese


def test_analysis_names_the_weight_version_that_produced_the_composite_index(
    data: DashboardData, manager_client: Client
) -> None:
    # given a version from 2026-01-01 and a later one from 2026-10-01
    speed = Dimension.objects.create(code="qa-speed", name="Speed")
    for day in (date(2026, 1, 1), date(2026, 10, 1)):
        weights_set(effective_from=day, weights={speed.code: "100"}, user=None)

    # when the manager reads 2026Q3's analysis and its printable report
    page = manager_client.get("/dashboard/analysis/?period=2026Q3").content.decode()
    report = manager_client.get("/dashboard/report/?period=2026Q3").content.decode()

    # then they are told the version in force on 30 September, linked to the weights page
    assert (
        '<span data-testid="weight-profile"><a href="/settings/weights/">'
        "Weight version effective from 2026-01-01.</a></span>"
    ) in page
    assert (
        '<span data-testid="weight-profile">Weight version effective from 2026-01-01.</span>'
        in report
    )


def test_drill_down_with_an_unknown_metric_names_the_parameter_and_lists_nothing(
    data: DashboardData, manager_client: Client
) -> None:
    # given 2026Q3 has eight NPS responses
    # when the drill-down is asked for a metric that does not exist
    response = manager_client.get("/dashboard/responses/?period=2026Q3&metric=bogus")
    page = html.unescape(response.content.decode())
    # then it is refused, the parameter named, and no response listed as if it matched
    assert response.status_code == 400
    assert "metric: “bogus” is not one of nps, " in page
    assert "0 rows" in page
    assert re.findall(r"<td>#(\d+)</td>", page) == []


def test_drill_down_with_an_unknown_filter_value_lists_nothing(
    data: DashboardData, manager_client: Client
) -> None:
    response = manager_client.get("/dashboard/responses/?period=2026Q3&channel=pigeon&metric=nps")
    page = response.content.decode()
    assert response.status_code == 400
    assert "Unknown channel pigeon; use one of:" in page
    assert re.findall(r"<td>#(\d+)</td>", page) == []
