"""Writes for surveys and responses."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import prefetch_related_objects
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework import status

from accounts.models import User
from csat.errors import ApplicationError
from csat.models import OutboxEvent
from csat.outbox import outbox_record
from metrics.periods import quarter_label
from surveys.definitions import SurveyDefinition
from surveys.ingest import TokenGrant, response_store
from surveys.models import (
    Answer,
    Channel,
    Customer,
    Invitation,
    Question,
    Response,
    Survey,
    Touchpoint,
)

TEXT_ANSWER_MAX_LENGTH = 5000
CHOICE_KINDS = frozenset({Question.Kind.SINGLE_CHOICE, Question.Kind.MULTIPLE_CHOICE})


@transaction.atomic
def survey_create_nps(
    *,
    title: str,
    nps_question: str,
    why_question: str = "",
    introduction: str = "",
    thank_you_message: str = "",
    touchpoint: Touchpoint | None = None,
    created_by: User | None = None,
) -> Survey:
    """Create an open NPS survey, with an optional free-text "why?" question after the score."""
    errors: dict[str, list[str]] = {}
    if not title.strip():
        errors["title"] = [_("Give the survey a title.")]
    if not nps_question.strip():
        errors["nps_question"] = [_("Write the 0-10 question.")]
    if errors:
        raise ApplicationError(_("The survey could not be created."), errors)
    survey = Survey.objects.create(
        title=title.strip(),
        introduction=introduction.strip(),
        thank_you_message=thank_you_message.strip(),
        touchpoint=touchpoint,
        team=created_by.team if created_by else None,
        created_by=created_by,
    )
    Question.objects.create(
        survey=survey, position=1, kind=Question.Kind.NPS, text=nps_question.strip()
    )
    if why_question.strip():
        Question.objects.create(
            survey=survey,
            position=2,
            kind=Question.Kind.TEXT,
            text=why_question.strip(),
            is_required=False,
        )
    return survey


def survey_set_status(*, survey: Survey, status_value: str) -> Survey:
    """Open or close a survey's link."""
    if status_value not in Survey.Status.values:
        raise ApplicationError(
            _("Unknown status."), {"status": [_("Choose one of: %s.") % ", ".join(Survey.Status)]}
        )
    survey.status = status_value
    survey.save(update_fields=["status", "updated_at"])
    return survey


@dataclass(frozen=True)
class ParsedAnswer:
    question: Question
    number: int | None = None
    text: str = ""
    choice_ids: tuple[int, ...] = ()
    row_scores: tuple[tuple[int, int], ...] = ()


def _is_blank(raw: Any) -> bool:
    if isinstance(raw, Mapping):  # a grid whose rows were all left unrated
        return all(_is_blank(value) for value in raw.values())
    return raw is None or (isinstance(raw, str) and not raw.strip()) or raw in ([], {})


def _parse_score(question: Question, raw: Any) -> int:
    low, high = question.scale or (0, 0)
    message = _("Choose a whole number from %(low)s to %(high)s.") % {"low": low, "high": high}
    if isinstance(raw, bool):
        raise ValueError(message)
    try:
        number = int(str(raw).strip())
    except ValueError:
        raise ValueError(message) from None
    if str(number) != str(raw).strip() or not low <= number <= high:
        raise ValueError(message)
    return number


def _parse_answer(question: Question, raw: Any, partial: bool = False) -> ParsedAnswer:
    """Turn one raw answer (form or JSON) into a validated answer; ValueError names the problem."""
    kind = question.kind
    if kind in (Question.Kind.NPS, Question.Kind.CSAT, Question.Kind.CES):
        return ParsedAnswer(question, number=_parse_score(question, raw))
    if kind == Question.Kind.YES_NO:
        value = str(raw).strip().lower() if not isinstance(raw, bool) else ("yes" if raw else "no")
        if value not in ("yes", "no", "true", "false", "1", "0"):
            raise ValueError(_("Answer yes or no."))
        return ParsedAnswer(question, number=1 if value in ("yes", "true", "1") else 0)
    if kind == Question.Kind.TEXT:
        if not isinstance(raw, str):
            raise ValueError(_("Write text."))
        if len(raw) > TEXT_ANSWER_MAX_LENGTH:
            raise ValueError(
                _("Keep it under %(max)s characters.") % {"max": TEXT_ANSWER_MAX_LENGTH}
            )
        return ParsedAnswer(question, text=raw.strip())
    if kind in (Question.Kind.SINGLE_CHOICE, Question.Kind.MULTIPLE_CHOICE):
        values = raw if isinstance(raw, list | tuple) else [raw]
        valid = {choice.pk for choice in question.choices.all()}
        try:
            chosen = tuple(int(str(value)) for value in values)
        except ValueError:
            raise ValueError(_("Choose one of the listed options.")) from None
        if not chosen or any(choice_id not in valid for choice_id in chosen):
            raise ValueError(_("Choose one of the listed options."))
        if kind == Question.Kind.SINGLE_CHOICE and len(chosen) != 1:
            raise ValueError(_("Choose exactly one option."))
        return ParsedAnswer(question, choice_ids=tuple(dict.fromkeys(chosen)))
    if kind == Question.Kind.RATING_GRID:
        if not isinstance(raw, Mapping):
            raise ValueError(_("Rate each row."))
        rows = {row.pk for row in question.rows.all()}
        scores = []
        for key, value in raw.items():
            if _is_blank(value):
                continue
            try:
                row_id = int(str(key))
            except ValueError:
                raise ValueError(_("Unknown row %(row)s.") % {"row": key}) from None
            if row_id not in rows:
                raise ValueError(_("Unknown row %(row)s.") % {"row": key})
            scores.append((row_id, _parse_score(question, value)))
        if question.is_required and not partial and len(scores) != len(rows):
            raise ValueError(_("Rate every row."))
        return ParsedAnswer(question, row_scores=tuple(scores))
    raise ValueError(_("This question cannot be answered."))


def _is_shown(question: Question, numbers: Mapping[int, int | None]) -> bool:
    """A conditional follow-up is shown only when its trigger's score is in range."""
    if question.show_if_question_id is None:
        return True
    trigger = numbers.get(question.show_if_question_id)
    if trigger is None:
        return False
    low = question.show_if_min if question.show_if_min is not None else trigger
    high = question.show_if_max if question.show_if_max is not None else trigger
    return low <= trigger <= high


def answers_validate(
    survey: Survey,
    raw_answers: Mapping[str, Any],
    *,
    partial: bool = False,
    questions: Sequence[Question] | None = None,
) -> list[ParsedAnswer]:
    """Validate every answer of a submission; ApplicationError lists each bad question by id.

    A partial save (`partial`) checks the answers given but asks for none of the missing ones.
    `questions`: the survey's questions by position with their choices and grid rows
    prefetched (a cached definition, surveys/definitions.py); read here when not given.
    """
    if questions is None:
        questions = list(survey.questions.order_by("position"))
        # Choices and grid rows only for the kinds that have them: a score-and-text survey
        # (the common API case) needs one query, not three.
        prefetch_related_objects([q for q in questions if q.kind in CHOICE_KINDS], "choices")
        prefetch_related_objects(
            [q for q in questions if q.kind == Question.Kind.RATING_GRID], "rows"
        )
    by_id = {str(question.pk): question for question in questions}
    errors: dict[str, list[str]] = {}
    for key in raw_answers:
        if str(key) not in by_id:
            errors[str(key)] = [_("This survey has no such question.")]
    parsed: dict[int, ParsedAnswer] = {}
    numbers: dict[int, int | None] = {}
    for question in questions:
        raw = raw_answers.get(str(question.pk))
        if _is_blank(raw):
            continue
        try:
            parsed[question.pk] = _parse_answer(question, raw, partial)
            numbers[question.pk] = parsed[question.pk].number
        except ValueError as error:
            errors[str(question.pk)] = [str(error)]
    for question in questions:
        shown = _is_shown(question, numbers)
        if not shown:
            parsed.pop(question.pk, None)
        elif (
            question.is_required
            and not partial
            and question.pk not in parsed
            and str(question.pk) not in errors
        ):
            errors[str(question.pk)] = [_("This question needs an answer.")]
    if errors:
        raise ApplicationError(_("Some answers need attention."), errors)
    return [parsed[question.pk] for question in questions if question.pk in parsed]


def _answer_columns(answers: list[ParsedAnswer]) -> list[dict[str, Any]]:
    """The Answer rows of the parsed answers: their column values by attname, without the
    response (surveys/ingest.py takes them as they are, no Answer instances built)."""
    rows: list[dict[str, Any]] = []
    for answer in answers:
        question_id = answer.question.pk
        if answer.row_scores:
            rows.extend(
                {"question_id": question_id, "grid_row_id": row, "number": score}
                for row, score in answer.row_scores
            )
        elif answer.choice_ids:
            rows.extend(
                {"question_id": question_id, "choice_id": choice} for choice in answer.choice_ids
            )
        else:
            rows.append({"question_id": question_id, "number": answer.number, "text": answer.text})
    return rows


def _answer_rows(response: Response, answers: list[ParsedAnswer]) -> list[Answer]:
    return [Answer(response=response, **row) for row in _answer_columns(answers)]


def _original(survey: Survey, submission_key: str) -> Response | None:
    """The complete, non-test response that already carries this key: a later submission
    with the key is a duplicate of it."""
    return Response.objects.filter(
        survey=survey,
        submission_key=submission_key,
        status=Response.Status.COMPLETE,
        is_test=False,
    ).first()


def _same_request(original: Response, fingerprint: str) -> Response:
    """A retry must repeat the first request: the same key with another body is a mistake
    that would otherwise look like success."""
    if fingerprint and original.submission_fingerprint not in ("", fingerprint):
        raise ApplicationError(
            _(
                "This Idempotency-Key was already used with a different request body. "
                "Send a new key for a new response."
            ),
            {"Idempotency-Key": [_("Already used with a different body.")]},
            status_code=status.HTTP_422_UNPROCESSABLE_ENTITY,
        )
    return original


def response_submit(
    *,
    survey: Survey,
    raw_answers: Mapping[str, Any],
    channel: str | None = None,
    submission_key: str | None = None,
    customer: Customer | None = None,
    agent: User | None = None,
    language: str = "",
    ip_address: str | None = None,
    user_agent: str = "",
    invitation: Invitation | None = None,
    is_partial: bool = False,
    touchpoint: Touchpoint | None = None,
    source_label: str = "",
    fingerprint: str = "",
    definition: SurveyDefinition | None = None,
    grants: TokenGrant | None = None,
) -> tuple[Response, bool]:
    """Store a response with its answers and, once complete, its outbox event, in one
    transaction.

    With `definition` (the survey's cached definition, surveys/definitions.py; `survey` is
    its survey) the answers are validated against it and the response is stored only while
    the survey still has that definition: DefinitionChanged otherwise, and nothing stored;
    with `grants` too, only while the caller's token still grants the permission
    (DefinitionChanged as well otherwise: the caller confirms its token and tries again).

    Returns (response, created). A second submission with the same submission key returns
    the first response and stores nothing (double click, back-and-resubmit, API retry).
    The channel defaults to web, or with an invitation to the invitation's channel. With an
    invitation, its one response is created or, while partial, updated in place;
    `is_partial` saves answers for later without counting them.
    With a `fingerprint` of the request body, a second submission with the same key but
    another body is refused (422) instead.
    """
    if not survey.is_open:
        raise ApplicationError(
            _("This survey is closed and no longer takes answers."),
            status_code=status.HTTP_410_GONE,
        )
    if channel is not None and channel not in Channel.values:
        raise ApplicationError(_("Unknown channel."), {"channel": [_("Unknown channel.")]})
    if invitation is not None:
        return _submit_for_invitation(
            survey=survey,
            invitation=invitation,
            channel=channel or invitation.channel,
            raw_answers=raw_answers,
            is_partial=is_partial,
            language=language,
            client=(ip_address, user_agent),
        )
    if is_partial:
        raise ApplicationError(
            _("Only a personal link can save answers to finish later."),
            {"action": [_("Send your answers instead.")]},
        )
    answers = answers_validate(
        survey, raw_answers, questions=definition.questions if definition else None
    )
    keep_client = survey.stores_client_details
    # Optimistic: insert, and let the unique key constraint find a duplicate. The common path
    # is one transaction (one statement on PostgreSQL) with no look-up before it.
    for _attempt in range(2):
        now = timezone.now()
        try:
            response = Response(
                survey=survey,
                channel=channel or Channel.WEB,
                status=Response.Status.COMPLETE,
                customer=None if survey.is_anonymous else customer,
                agent=agent,
                # ids, not objects: reading survey.touchpoint would cost a query
                team_id=agent.team_id if agent else None,
                touchpoint_id=touchpoint.pk if touchpoint else survey.touchpoint_id,
                submission_key=submission_key or "",
                submission_fingerprint=fingerprint if submission_key else "",
                segment=customer.segment if customer and not survey.is_anonymous else "",
                language=language[:16],
                source_label=source_label[:120],
                ip_address=ip_address if keep_client else None,
                user_agent=user_agent[:400] if keep_client else "",
                submitted_at=now,
                quarter=quarter_label(now),
            )
            stored = response_store(
                response,
                _answer_columns(answers),
                expected_version=definition.version if definition else None,
                grants=grants,
            )
            if stored is None:
                raise DefinitionChanged(survey.public_id)
        except IntegrityError:
            if not submission_key:
                raise
            # The key is taken: by the original (a retry, a double click, a race), which is
            # returned; or by a partial or test response, which never blocks a later complete
            # one (metrics.md): it gives up the key, and the insert is tried again.
            existing = _original(survey, submission_key)
            if existing is not None:
                return _same_request(existing, fingerprint), False
            Response.objects.filter(survey=survey, submission_key=submission_key).update(
                submission_key=""
            )
            continue
        return response, True
    raise ApplicationError(
        _("Your answers could not be saved; please try again."),
        status_code=status.HTTP_409_CONFLICT,
    )


class DefinitionChanged(Exception):
    """The survey changed after the cached definition the answers were validated against."""


class _AlreadyComplete(Exception):
    """A concurrent submission completed the invitation's response first."""


def invitation_is_expired(invitation: Invitation) -> bool:
    """The invitation's link no longer takes answers (its expiry has passed)."""
    return invitation.expires_at is not None and invitation.expires_at <= timezone.now()


def invitation_response(invitation: Invitation) -> Response | None:
    """The invitation's response as its customer sees it: a partial one is resumed, a complete
    one closes the link."""
    return _as_seen(Response.objects.filter(invitation=invitation).first())


def _as_seen(holder: Response | None) -> Response | None:
    """A test response (staff trying a personal link) is none at all to the customer: it
    never blocks their own answers (metrics.md)."""
    return None if holder is not None and holder.is_test else holder


def _submit_for_invitation(
    *,
    survey: Survey,
    invitation: Invitation,
    channel: str,
    raw_answers: Mapping[str, Any],
    is_partial: bool,
    language: str,
    client: tuple[str | None, str],
) -> tuple[Response, bool]:
    """The invitation's one response: created, or completed/updated in place while partial."""
    if invitation.survey_id != survey.pk:
        raise ApplicationError(
            _("This invitation is for another survey."), {"invitation": [_("Wrong survey.")]}
        )
    for _attempt in range(2):
        holder = Response.objects.filter(invitation=invitation).first()
        existing = _as_seen(holder)
        if existing is not None and existing.status == Response.Status.COMPLETE:
            return existing, False
        if invitation_is_expired(invitation):
            raise ApplicationError(
                _("This invitation has expired and no longer takes answers."),
                status_code=status.HTTP_410_GONE,
            )
        answers = answers_validate(survey, raw_answers, partial=is_partial)
        customer = None if survey.is_anonymous else invitation.customer
        ip_address, user_agent = client if survey.stores_client_details else (None, "")
        now = timezone.now()
        fields: dict[str, Any] = {
            "channel": channel,
            "status": Response.Status.PARTIAL if is_partial else Response.Status.COMPLETE,
            "customer": customer,
            "agent_id": invitation.agent_id,
            "team_id": invitation.team_id
            or (invitation.agent.team_id if invitation.agent else None),
            "touchpoint_id": invitation.touchpoint_id or survey.touchpoint_id,
            "segment": customer.segment if customer else "",
            "language": language[:16],
            "ip_address": ip_address,
            "user_agent": user_agent[:400],
            "submitted_at": None if is_partial else now,
            "quarter": "" if is_partial else quarter_label(now),
        }
        try:
            with transaction.atomic():
                if holder is not None and existing is None:
                    # A test response lets go of the invitation for the customer's own.
                    Response.objects.filter(pk=holder.pk, is_test=True).update(invitation=None)
                if existing is None:
                    response = Response.objects.create(
                        survey=survey, invitation=invitation, **fields
                    )
                else:
                    # Compare-and-swap: only a response that is still partial changes; one that a
                    # concurrent submission completed meanwhile stays as it is.
                    if not Response.objects.filter(
                        pk=existing.pk, status=Response.Status.PARTIAL
                    ).update(**fields):
                        raise _AlreadyComplete
                    Answer.objects.filter(response_id=existing.pk).delete()
                    response = Response.objects.get(pk=existing.pk)
                Answer.objects.bulk_create(_answer_rows(response, answers))
                if not is_partial:
                    outbox_record(OutboxEvent.Kind.RESPONSE_SUBMITTED, response.pk)
        except (IntegrityError, _AlreadyComplete):
            # Another request for the same invitation won the race: look again.
            continue
        return response, True
    raise ApplicationError(
        _("Your answers could not be saved; please try again."),
        status_code=status.HTTP_409_CONFLICT,
    )
