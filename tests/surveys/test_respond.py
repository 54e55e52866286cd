# ruff: noqa: RUF001
"""The public respondent page: every kind of question, follow-ups, language, rate limit,
page weight."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from django.contrib.staticfiles import finders
from django.test import Client

from accounts.models import User
from csat.models import OutboxEvent
from surveys import branding
from surveys.models import Answer, Question, Response, Survey
from surveys.respond import language_pick, survey_text, text_in
from surveys.services import survey_create_nps
from tests.surveys.builders import full_answers, multi_kind_survey, questions_by_kind


@pytest.fixture
def survey(db: None) -> Survey:
    return multi_kind_survey()


def _key(client: Client, survey: Survey) -> str:
    page = client.get(f"/s/{survey.public_id}/").content.decode()
    match = re.search(r'name="submission_key" value="([^"]+)"', page)
    assert match is not None
    return match.group(1)


def test_page_renders_every_kind_with_labels_and_fieldsets(client: Client, survey: Survey) -> None:
    page = client.get(f"/s/{survey.public_id}/").content.decode()

    questions = questions_by_kind(survey)
    grid_rows = list(questions["rating_grid"].rows.all())
    assert page.count('<fieldset class="question') == 8
    assert page.count('class="star"') == 5  # CSAT 1-5 as stars
    assert "4 of 5 stars" in page
    assert page.count(f'name="q{questions["nps"].pk}"') == 11
    assert page.count(f'name="q{questions["ces"].pk}"') == 7
    for row in grid_rows:
        assert page.count(f'name="q{questions["rating_grid"].pk}_r{row.pk}"') == 5
    assert "<legend>Speed</legend>" in page
    assert "Answer only if you chose 6 or less for “Would you recommend us?”." in page
    assert f'data-show-if="{questions["nps"].pk}"' in page
    assert "js/respond.js" in page
    assert "style=" not in page
    assert "onclick" not in page


def test_customer_answers_every_kind_and_each_answer_is_stored(
    client: Client, survey: Survey
) -> None:
    data = {"submission_key": _key(client, survey), **full_answers(survey, nps=4)}

    response = client.post(f"/s/{survey.public_id}/", data)

    assert response.status_code == 302
    stored = Response.objects.get()
    assert (stored.channel, stored.status, stored.language) == ("web", "complete", "en")
    questions = questions_by_kind(survey)
    rows = list(questions["rating_grid"].rows.order_by("position"))
    answers = {
        (answer.question_id, answer.grid_row_id): (answer.number, answer.text, answer.choice_id)
        for answer in Answer.objects.filter(response=stored)
    }
    choice = questions["single_choice"].choices.order_by("position").first()
    assert answers == {
        (questions["nps"].pk, None): (4, "", None),
        (questions["follow_up"].pk, None): (None, "Call back sooner", None),
        (questions["csat"].pk, None): (4, "", None),
        (questions["ces"].pk, None): (6, "", None),
        (questions["yes_no"].pk, None): (1, "", None),
        (questions["rating_grid"].pk, rows[0].pk): (5, "", None),
        (questions["rating_grid"].pk, rows[1].pk): (3, "", None),
        (questions["single_choice"].pk, None): (None, "", choice.pk if choice else None),
    }
    assert OutboxEvent.objects.filter(object_id=stored.pk).count() == 1


def test_follow_up_is_required_only_when_its_trigger_is_in_range(
    client: Client, survey: Survey
) -> None:
    questions = questions_by_kind(survey)
    low = full_answers(survey, nps=3)
    low.pop(f"q{questions['follow_up'].pk}")

    refused = client.post(f"/s/{survey.public_id}/", {"submission_key": "a", **low})
    promoter = full_answers(survey, nps=9)
    promoter[f"q{questions['follow_up'].pk}"] = "ignored: not shown for a 9"
    accepted = client.post(f"/s/{survey.public_id}/", {"submission_key": "b", **promoter})

    assert refused.status_code == 400
    assert "This question needs an answer." in refused.content.decode()
    assert accepted.status_code == 302
    stored = Response.objects.get()
    assert not stored.answers.filter(question=questions["follow_up"]).exists()


def test_a_refused_form_keeps_every_answer_checked(client: Client, survey: Survey) -> None:
    questions = questions_by_kind(survey)
    data = full_answers(survey, nps=8)
    data.pop(f"q{questions['ces'].pk}")

    page = client.post(f"/s/{survey.public_id}/", {"submission_key": "k", **data})

    html = page.content.decode()
    assert page.status_code == 400
    row = questions["rating_grid"].rows.order_by("position").first()
    assert row is not None
    assert f'name="q{questions["nps"].pk}" value="8" checked' in html
    assert f'name="q{questions["csat"].pk}" value="4" checked' in html
    assert f'name="q{questions["rating_grid"].pk}_r{row.pk}" value="5" checked' in html
    assert 'value="yes" checked' in html
    assert not Response.objects.exists()


def test_chinese_browser_gets_the_chinese_survey_text_with_english_fallback(
    client: Client, survey: Survey
) -> None:
    page = client.get(f"/s/{survey.public_id}/", HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9")

    html = page.content.decode()
    assert page["Content-Language"] == "zh-hans"
    assert '<html lang="zh-hans">' in html
    assert "<h1>服务回访</h1>" in html
    assert "您会推荐我们吗？" in html
    assert "How satisfied are you?" in html  # no Chinese text: the default language's
    assert "提交答卷" in html


def test_language_pick_prefers_invitation_then_browser_then_survey_default(
    survey: Survey,
) -> None:
    survey.default_language = "zh-hans"

    assert language_pick(survey, invited="en", accept="zh-CN") == "en"
    assert language_pick(survey, invited=None, accept="fr-FR, en-GB;q=0.8") == "en"
    assert language_pick(survey, invited="", accept="fr-FR") == "zh-hans"
    assert language_pick(survey, invited="xx", accept="") == "zh-hans"


def test_text_falls_back_per_string(survey: Survey) -> None:
    survey.translations = {"zh-hans": {"title": "标题", "introduction": "  "}}

    text = survey_text(survey, "zh-hans")

    assert (text.title, text.introduction) == ("标题", "Two minutes, thank you.")
    assert text_in(survey, "title", "en", "en") == "Service check"


def test_too_many_posts_from_one_address_get_a_429_page(
    client: Client, survey: Survey, settings: object
) -> None:
    settings.RESPOND_RATE_LIMIT = "2/m"  # type: ignore[attr-defined]
    # A fresh address, so earlier runs within the same minute do not count.
    address = f"2001:db8:{uuid.uuid4().hex[:4]}:{uuid.uuid4().hex[:4]}::1"
    data = full_answers(survey, nps=9)

    statuses = [
        client.post(
            f"/s/{survey.public_id}/", {"submission_key": f"k{i}", **data}, REMOTE_ADDR=address
        ).status_code
        for i in range(3)
    ]
    page = client.post(f"/s/{survey.public_id}/", data, REMOTE_ADDR=address)

    assert statuses == [302, 302, 429]
    assert page["Retry-After"] == "60"
    assert "Too many attempts" in page.content.decode()
    assert Response.objects.count() == 2


def test_respondent_page_weight_stays_small(client: Client, survey: Survey) -> None:
    """HTML + CSS + JS of the multi-kind page, uncompressed (the figure in the README)."""
    html = client.get(f"/s/{survey.public_id}/").content
    assets = re.findall(rb'(?:href|src)="(/static/[^"]+)"', html)
    sizes = [len(html)]
    for path in assets:
        found = finders.find(path.decode().removeprefix("/static/"))
        assert isinstance(found, str)
        sizes.append(Path(found).stat().st_size)

    assert len(assets) == 2  # one stylesheet, one script
    assert sum(sizes) < 20_000, sizes


def test_brand_colour_and_logo_are_served_for_the_page(client: Client, db: None) -> None:
    from io import BytesIO

    from PIL import Image

    image = BytesIO()
    Image.new("RGB", (240, 80), "#0a7d4f").save(image, format="PNG")
    survey = multi_kind_survey(brand_color="#0A7D4F", logo=image.getvalue())

    page = client.get(f"/s/{survey.public_id}/").content.decode()
    css = client.get(f"/s/{survey.public_id}/brand.css")
    logo = client.get(f"/s/{survey.public_id}/logo")

    assert f'href="/s/{survey.public_id}/brand.css?v=' in page
    assert 'width="144" height="48"' in page
    assert css["Content-Type"] == "text/css; charset=utf-8"
    assert css.content.decode() == ":root { --brand: #0a7d4f; --brand-ink: #ffffff; }\n"
    assert (logo.status_code, logo["Content-Type"]) == (200, "image/png")
    assert logo.content == image.getvalue()


def test_multiple_choice_stores_each_chosen_option_and_is_prefilled_when_refused(
    client: Client, survey: Survey
) -> None:
    from surveys.builder import OptionSpec, QuestionSpec, question_save

    question = question_save(
        survey=survey,
        spec=QuestionSpec(
            kind="multiple_choice",
            text={"en": "What did we do well?"},
            options=[
                OptionSpec({"en": "Speed"}),
                OptionSpec({"en": "Care"}),
                OptionSpec({"en": "Price"}),
            ],
        ),
    )
    speed, care, _price = question.choices.order_by("position")
    data = {**full_answers(survey, nps=9), f"q{question.pk}": [str(speed.pk), str(care.pk)]}
    ces = questions_by_kind(survey)["ces"]

    refused = client.post(
        f"/s/{survey.public_id}/", {**data, f"q{ces.pk}": "", "submission_key": "a"}
    ).content.decode()
    accepted = client.post(f"/s/{survey.public_id}/", {**data, "submission_key": "b"})

    assert f'name="q{question.pk}" value="{speed.pk}" checked' in refused
    assert f'name="q{question.pk}" value="{care.pk}" checked' in refused
    assert accepted.status_code == 302
    stored = Response.objects.get()
    assert sorted(
        stored.answers.filter(question=question).values_list("choice__label", flat=True)
    ) == [
        "Care",
        "Speed",
    ]


def test_follow_up_condition_reads_naturally_when_a_bound_is_the_scale_end(
    client: Client, staff: User
) -> None:
    # given a follow-up shown for NPS 0 to 6 (0 is the scale's lowest point)
    survey = survey_create_nps(
        title="Visit", nps_question="Would you recommend us?", why_question="Why?", created_by=staff
    )
    Question.objects.filter(survey=survey, kind=Question.Kind.TEXT).update(
        show_if_question=survey.questions.get(kind=Question.Kind.NPS), show_if_min=0, show_if_max=6
    )
    survey.status = Survey.Status.OPEN
    survey.save()

    page = client.get(f"/s/{survey.public_id}/").content.decode()

    # then the respondent reads "6 or less", not "0 to 6"
    assert "Answer only if you chose 6 or less for “Would you recommend us?”." in page


def test_errors_follow_the_page_language_not_the_interface_cookie(
    client: Client, survey: Survey
) -> None:
    # given a visitor whose staff-interface cookie says English but whose browser is Chinese
    client.cookies["django_language"] = "en"
    key = _key(client, survey)

    # when they send the Chinese page with no answer
    refused = client.post(
        f"/s/{survey.public_id}/", {"submission_key": key}, HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9"
    )

    # then the errors are in the page's language
    page = refused.content.decode()
    assert refused["Content-Language"] == "zh-hans"
    assert "此问题为必答题。" in page
    assert "This question needs an answer." not in page


@pytest.mark.parametrize("stylesheet", ["respond.css", "phone.css", "base.css"])
def test_focus_outlines_stand_out_from_the_page_background(stylesheet: str) -> None:
    """WCAG 1.4.11: a focus indicator needs 3:1 against what surrounds it (the outline is
    offset from the control, so it is drawn on the page background: white or #f5f7fa)."""
    found = finders.find(f"css/{stylesheet}")
    assert isinstance(found, str)
    css = Path(found).read_text()
    variables = dict(re.findall(r"--([a-z-]+):\s*(#[0-9a-fA-F]{6})", css))
    outlines = re.findall(r"outline:\s*3px solid ([^;]+);", css)
    colours = {
        variables[match.group(1)] if (match := re.fullmatch(r"var\(--([a-z-]+)\)", o)) else o
        for o in outlines
    }

    assert outlines
    for colour in colours:
        for background in ("#ffffff", "#f5f7fa"):
            assert branding.contrast(colour, background) >= 3, (colour, background)


def test_a_logo_over_the_size_limit_is_refused_naming_its_size(settings: Any) -> None:
    from io import BytesIO

    from PIL import Image

    settings.SURVEY_LOGO_MAX_BYTES = 2_000
    image = BytesIO()
    Image.effect_noise((120, 120), 64).convert("RGB").save(image, format="PNG")
    assert len(image.getvalue()) > 2_000

    with pytest.raises(ValueError, match=r"The logo is too large: \d+ KB, at most 2 KB\."):
        branding.logo_clean(image.getvalue())
