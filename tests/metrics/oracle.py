"""An independent calculation of every metric of the contract (/work/shared/metrics.md).

It reads the source rows with the ORM into plain Python and applies each definition
literally, record by record. It imports nothing from metrics.formulas, metrics.selectors,
metrics.answers or metrics.families, so that a mistake there shows up as a difference.

Where the contract leaves a choice, this is the reading taken:
- A case's agent, team and touchpoint are those of the response or interaction behind it
  ("the one on the interaction or response behind it ... the agent's team at the time of
  the event, kept on the record"); a complaint without an interaction keeps its own.
- Coverage and the response rate slice their population (interactions, invitations); the
  response that covers a customer or answers an invitation only has to count and fall in
  the period.
- The composite index has no interval and no test; its n is the number of answers behind
  the dimension scores that take part in it (0 when the index is null). The median
  first-response time has no interval and no test either.
- A year's change compares it with the previous year.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings

from accounts.models import Team, User
from feedback.models import Case, ComplaintCategory, ImprovementAction
from metrics.models import Weight, WeightProfile
from surveys.models import (
    Answer,
    Channel,
    GridRow,
    Interaction,
    Invitation,
    Purchase,
    Question,
    Response,
    Segment,
    Survey,
    Touchpoint,
)

Z_95 = 1.96
LOW_SAMPLE_MAX = 29
ALPHA = 0.05
FIRST_RESPONSE_DEADLINE = timedelta(hours=24)
RESOLUTION_DEADLINE = timedelta(hours=48)
REPEAT_WINDOW = timedelta(days=30)
DEFAULT_SCALES = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7), "rating_grid": (1, 5)}
BANDS: dict[tuple[int, int], list[tuple[int, int]]] = {
    (0, 10): [(0, 2), (3, 4), (5, 6), (7, 8), (9, 10)],
    (1, 10): [(1, 2), (3, 4), (5, 6), (7, 8), (9, 10)],
    (1, 5): [(point, point) for point in range(1, 6)],
    (1, 7): [(point, point) for point in range(1, 8)],
}
SLICE_KINDS = ("survey", "channel", "touchpoint", "segment", "team", "agent")
# Which attributes each kind of record has (metrics.md, "Slices").
RESPONSE_ATTRIBUTES = frozenset(SLICE_KINDS)
INVITATION_ATTRIBUTES = frozenset(SLICE_KINDS)
CASE_ATTRIBUTES = frozenset(SLICE_KINDS) - {"survey"}
INTERACTION_ATTRIBUTES = frozenset(SLICE_KINDS) - {"survey", "channel"}
ANSWER_METRICS = ("nps", "csat", "satisfaction", "ces", "ces_easy", "fcr", "composite")
CASE_METRICS = (
    "complaint_resolution",
    "nonrepeat_resolution",
    "operational_fcr",
    "sla_first_response",
    "sla_resolution",
    "first_response_time",
    "problem_conversion",
)
RESPONSE_FIELDS = ("id", "survey_id", "channel", "touchpoint_id", "segment", "team_id",
                   "agent_id", "customer_id", "status", "is_test", "is_spam", "submitted_at",
                   "invitation_id")  # fmt: skip
CASE_FIELDS = ("id", "kind", "customer_id", "category_id", "channel", "segment", "team_id",
               "agent_id", "touchpoint_id", "opened_at", "first_response_at", "resolved_at",
               "contact_count", "response_id", "interaction_id")  # fmt: skip
INTERACTION_FIELDS = ("id", "customer_id", "touchpoint_id", "segment", "team_id", "agent_id",
                      "occurred_at")  # fmt: skip
INVITATION_FIELDS = ("id", "customer_id", "survey_id", "channel", "touchpoint_id", "segment",
                     "team_id", "agent_id", "sent_at", "delivered_at")  # fmt: skip

Attributes = dict[str, str | None]
Filters = dict[str, str]


# ---------------------------------------------------------------- expected figures


@dataclass(frozen=True)
class Expected:
    """What a figure must be; `test` holds the inputs of its change test."""

    value: float | None
    n: int = 0
    low: float | None = None
    high: float | None = None
    margin: float | None = None
    is_provisional: bool = False
    change: float | None = None
    change_z: float | None = None
    change_p: float | None = None
    change_significant: bool = False
    details: dict[str, Any] = field(default_factory=dict)
    test: tuple[Any, ...] | None = None

    @property
    def is_low_sample(self) -> bool:
        return 1 <= self.n <= LOW_SAMPLE_MAX


NO_DATA = Expected(None)


def wilson(successes: int, n: int) -> tuple[float, float]:
    """The Wilson score interval of successes / n at 95%, in percent."""
    share = successes / n
    z_squared = Z_95**2
    denominator = 1 + z_squared / n
    centre = (share + z_squared / (2 * n)) / denominator
    half = Z_95 * math.sqrt(share * (1 - share) / n + z_squared / (4 * n**2)) / denominator
    return 100 * (centre - half), 100 * (centre + half)


def proportion(successes: int, n: int) -> Expected:
    if n == 0:
        return NO_DATA
    low, high = wilson(successes, n)
    return Expected(100 * successes / n, n, low, high, test=("proportion", successes, n))


def mean_of(values: list[float]) -> Expected:
    n = len(values)
    if n == 0:
        return NO_DATA
    mean = statistics.fmean(values)
    if n == 1:
        return Expected(mean, 1, test=("mean", mean, None, 1))
    sd = statistics.stdev(values)
    margin = Z_95 * sd / math.sqrt(n)
    return Expected(mean, n, mean - margin, mean + margin, margin, test=("mean", mean, sd, n))


def nps_of(scores: list[int]) -> Expected:
    n = len(scores)
    if n == 0:
        return NO_DATA
    promoters = sum(1 for score in scores if score >= 9)
    detractors = sum(1 for score in scores if score <= 6)
    p, d = promoters / n, detractors / n
    value = 100 * (p - d)
    margin = Z_95 * 100 * math.sqrt(max(p + d - (p - d) ** 2, 0.0) / n)
    return Expected(
        value,
        n,
        value - margin,
        value + margin,
        margin,
        details={
            "promoters": promoters,
            "detractors": detractors,
            "passives": n - promoters - detractors,
        },
        test=("nps", p, d, n),
    )


def change_z(before: tuple[Any, ...] | None, after: tuple[Any, ...] | None) -> float | None:
    """z of the change between two periods, by the test metrics.md gives the metric."""
    if before is None or after is None or before[0] != after[0]:
        return None
    if before[0] == "nps":
        _kind, p1, d1, n1 = before
        _kind, p2, d2, n2 = after
        variance1, variance2 = p1 + d1 - (p1 - d1) ** 2, p2 + d2 - (p2 - d2) ** 2
        if variance1 <= 0 and variance2 <= 0:
            return None
        return (100 * (p2 - d2) - 100 * (p1 - d1)) / (
            100 * math.sqrt(variance1 / n1 + variance2 / n2)
        )
    if before[0] == "proportion":
        _kind, x1, n1 = before
        _kind, x2, n2 = after
        pooled = (x1 + x2) / (n1 + n2)
        if pooled in (0, 1):
            return None
        return (x2 / n2 - x1 / n1) / math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    _kind, m1, s1, n1 = before
    _kind, m2, s2, n2 = after
    if s1 is None or s2 is None or (s1 == 0 and s2 == 0):
        return None
    return (m2 - m1) / math.sqrt(s1**2 / n1 + s2**2 / n2)


def with_change(current: Expected, previous: Expected) -> Expected:
    if current.value is None or previous.value is None:
        return current
    z = change_z(previous.test, current.test)
    p = None if z is None else 2 * (1 - statistics.NormalDist().cdf(abs(z)))
    return replace(
        current,
        change=current.value - previous.value,
        change_z=z,
        change_p=p,
        change_significant=p is not None and p < ALPHA,
    )


# ---------------------------------------------------------------- periods


def zone() -> ZoneInfo:
    return ZoneInfo(settings.REPORTING_TIME_ZONE)


def periods_of(moment: datetime) -> tuple[str, str]:
    """The quarter and the year a moment falls in, on the reporting clock."""
    local = moment.astimezone(zone())
    return f"{local.year}Q{(local.month - 1) // 3 + 1}", str(local.year)


def previous_period(period: str) -> str:
    if len(period) == 4:
        return str(int(period) - 1)
    year, quarter = int(period[:4]), int(period[5])
    return f"{year - 1}Q4" if quarter == 1 else f"{year}Q{quarter - 1}"


def last_day(period: str) -> date:
    year = int(period[:4])
    if len(period) == 4 or period[5] == "4":
        return date(year, 12, 31)
    return date(year, 3 * int(period[5]) + 1, 1) - timedelta(days=1)


def normalise(score: float, low: int, high: int) -> float:
    return 100 * (score - low) / (high - low)


def _text(value: object) -> str | None:
    return None if value in (None, "") else str(value)


def member(attributes: Attributes, filters: Filters) -> bool:
    """Whether a record falls within every filter; records without the attribute never do."""
    return all(attributes.get(kind) == value for kind, value in filters.items())


# ---------------------------------------------------------------- source rows


@dataclass
class _Response:
    id: int
    customer: int | None
    submitted_at: datetime | None
    counted: bool
    invitation: int | None
    attributes: Attributes
    periods: tuple[str, ...] = ()
    # ("nps" | "csat" | "ces", score, lo, hi), ("fcr", yes), ("dim", code, normalised)
    entries: list[tuple[Any, ...]] = field(default_factory=list)


@dataclass
class _Case:
    id: int
    kind: str
    customer: int | None
    category: int | None
    opened_at: datetime
    first_response_at: datetime | None
    resolved_at: datetime | None
    contact_count: int
    linked: bool
    attributes: Attributes
    periods: tuple[str, ...]


@dataclass
class _Event:
    id: int
    customer: int | None
    moment: datetime
    attributes: Attributes
    periods: tuple[str, ...]
    delivered_at: datetime | None = None


class Oracle:
    """Every figure of metrics.md for a period, a slice and the as-of moment."""

    def __init__(self, as_of: datetime) -> None:
        self.as_of = as_of
        self.repurchase_window = timedelta(hours=settings.METRICS_REPURCHASE_WINDOW_HOURS)
        self._load_questions()
        self._load_responses()
        self._load_cases()
        self._load_reach()
        self._load_weights()
        self._cache: dict[tuple[str, tuple[tuple[str, str], ...]], dict[str, Expected]] = {}

    def _load_questions(self) -> None:
        self.questions = {
            row["id"]: row
            for row in Question.objects.values(
                "id", "kind", "scale_min", "scale_max", "role", "dimension__code"
            )
        }
        self.grid_rows = {
            row["id"]: row for row in GridRow.objects.values("id", "question_id", "dimension__code")
        }

    def _scale(self, question: dict[str, Any]) -> tuple[int, int]:
        low, high = DEFAULT_SCALES[question["kind"]]
        return (
            question["scale_min"] if question["scale_min"] is not None else low,
            question["scale_max"] if question["scale_max"] is not None else high,
        )

    def _load_responses(self) -> None:
        self.responses: dict[int, _Response] = {}
        for row in Response.objects.values(*RESPONSE_FIELDS):
            submitted = row["submitted_at"]
            counted = (
                row["status"] == "complete"
                and not row["is_test"]
                and not row["is_spam"]
                and submitted is not None
                and submitted <= self.as_of
            )
            self.responses[row["id"]] = _Response(
                id=row["id"],
                customer=row["customer_id"],
                submitted_at=submitted,
                counted=counted,
                invitation=row["invitation_id"],
                attributes={
                    "survey": _text(row["survey_id"]),
                    "channel": _text(row["channel"]),
                    "touchpoint": _text(row["touchpoint_id"]),
                    "segment": _text(row["segment"]),
                    "team": _text(row["team_id"]),
                    "agent": _text(row["agent_id"]),
                },
                periods=periods_of(submitted) if submitted else (),
            )
        for answer in Answer.objects.filter(number__isnull=False).values(
            "response_id", "question_id", "grid_row_id", "number"
        ):
            response = self.responses[answer["response_id"]]
            question = self.questions[answer["question_id"]]
            kind, score = question["kind"], answer["number"]
            if answer["grid_row_id"] is not None:
                row = self.grid_rows[answer["grid_row_id"]]
                if kind == "rating_grid":
                    response.entries.append(("score", "rating", score, *self._scale(question)))
                if kind == "rating_grid" and row["dimension__code"]:
                    low, high = self._scale(question)
                    entry = ("dim", row["dimension__code"], normalise(score, low, high))
                    response.entries.append(entry)
            elif kind in ("nps", "csat", "ces"):
                low, high = self._scale(question)
                response.entries.append((kind, score, low, high))
                response.entries.append(("score", kind, score, low, high))
                if question["dimension__code"]:
                    entry = ("dim", question["dimension__code"], normalise(score, low, high))
                    response.entries.append(entry)
            elif kind == "yes_no" and question["role"] == "fcr":
                response.entries.append(("fcr", score))
        self.counted = [response for response in self.responses.values() if response.counted]

    def _load_cases(self) -> None:
        linked = set(ImprovementAction.cases.through.objects.values_list("case_id", flat=True))
        interactions = {
            row["id"]: row
            for row in Interaction.objects.values(
                "id", "touchpoint_id", "segment", "team_id", "agent_id"
            )
        }
        self.cases = []
        for row in Case.objects.values(*CASE_FIELDS):
            attributes: Attributes = {
                "channel": _text(row["channel"]),
                "touchpoint": _text(row["touchpoint_id"]),
                "segment": _text(row["segment"]),
                "team": _text(row["team_id"]),
                "agent": _text(row["agent_id"]),
            }
            if row["response_id"] is not None:
                behind = self.responses[row["response_id"]].attributes
                attributes = {kind: behind[kind] for kind in CASE_ATTRIBUTES}
            elif row["interaction_id"] is not None:
                interaction = interactions[row["interaction_id"]]
                attributes.update(
                    touchpoint=_text(interaction["touchpoint_id"]),
                    segment=_text(interaction["segment"]),
                    team=_text(interaction["team_id"]),
                    agent=_text(interaction["agent_id"]),
                )
            if row["opened_at"] > self.as_of:
                continue
            self.cases.append(
                _Case(
                    id=row["id"],
                    kind=row["kind"],
                    customer=row["customer_id"],
                    category=row["category_id"],
                    opened_at=row["opened_at"],
                    first_response_at=self._happened(row["first_response_at"]),
                    resolved_at=self._happened(row["resolved_at"]),
                    contact_count=row["contact_count"],
                    linked=row["id"] in linked,
                    attributes=attributes,
                    periods=periods_of(row["opened_at"]),
                )
            )

    def _happened(self, moment: datetime | None) -> datetime | None:
        return moment if moment is not None and moment <= self.as_of else None

    def _load_reach(self) -> None:
        self.interactions = [
            _Event(
                id=row["id"],
                customer=row["customer_id"],
                moment=row["occurred_at"],
                attributes={
                    "touchpoint": _text(row["touchpoint_id"]),
                    "segment": _text(row["segment"]),
                    "team": _text(row["team_id"]),
                    "agent": _text(row["agent_id"]),
                },
                periods=periods_of(row["occurred_at"]),
            )
            for row in Interaction.objects.values(*INTERACTION_FIELDS)
            if row["occurred_at"] <= self.as_of
        ]
        self.invitations = [
            _Event(
                id=row["id"],
                customer=row["customer_id"],
                moment=row["sent_at"],
                attributes={
                    "survey": _text(row["survey_id"]),
                    "channel": _text(row["channel"]),
                    "touchpoint": _text(row["touchpoint_id"]),
                    "segment": _text(row["segment"]),
                    "team": _text(row["team_id"]),
                    "agent": _text(row["agent_id"]),
                },
                periods=periods_of(row["sent_at"]),
                delivered_at=self._happened(row["delivered_at"]),
            )
            for row in Invitation.objects.values(*INVITATION_FIELDS)
            if row["sent_at"] is not None and row["sent_at"] <= self.as_of
        ]
        self.answered = {response.invitation for response in self.counted if response.invitation}
        self.purchases: dict[int, list[datetime]] = defaultdict(list)
        for customer, moment in Purchase.objects.values_list("customer_id", "purchased_at"):
            if moment <= self.as_of:
                self.purchases[customer].append(moment)

    def _load_weights(self) -> None:
        profiles = dict(WeightProfile.objects.values_list("id", "effective_from"))
        self.profiles: list[tuple[date, dict[str, float]]] = []
        weights: dict[int, dict[str, float]] = defaultdict(dict)
        for profile, code, percent in Weight.objects.values_list(
            "profile_id", "dimension__code", "percent"
        ):
            weights[profile][code] = float(percent)
        for profile, effective_from in sorted(profiles.items(), key=lambda item: item[1]):
            self.profiles.append((effective_from, weights[profile]))

    def weights_on(self, day: date) -> dict[str, float]:
        """The weight version in force on a day: the latest effective on or before it."""
        in_force: dict[str, float] = {}
        for effective_from, weights in self.profiles:
            if effective_from <= day:
                in_force = weights
        return in_force

    # ------------------------------------------------------------ slices

    def slices(self) -> list[tuple[str, str]]:
        """Every slice member there is (with data or not)."""
        members = [("all", "")]
        members += [("survey", str(pk)) for pk in Survey.objects.values_list("pk", flat=True)]
        members += [("channel", channel) for channel in Channel.values]
        members += [
            ("touchpoint", str(pk)) for pk in Touchpoint.objects.values_list("pk", flat=True)
        ]
        members += [("segment", segment) for segment in Segment.values]
        members += [("team", str(pk)) for pk in Team.objects.values_list("pk", flat=True)]
        members += [("agent", str(pk)) for pk in User.objects.values_list("pk", flat=True)]
        return members

    # ------------------------------------------------------------ figures

    def figures(self, period: str, filters: Filters | None = None) -> dict[str, Expected]:
        """Every metric within the filters, with the change on the period before."""
        filters = filters or {}
        current = self._figures(period, filters)
        previous = self._figures(previous_period(period), filters)
        return {key: with_change(figure, previous[key]) for key, figure in current.items()}

    def _figures(self, period: str, filters: Filters) -> dict[str, Expected]:
        key = (period, tuple(sorted(filters.items())))
        if key not in self._cache:
            figures = self._answer_figures(period, filters)
            kinds = set(filters)
            if kinds <= INVITATION_ATTRIBUTES:
                figures["response_rate"] = self._response_rate(period, filters)
            if kinds <= INTERACTION_ATTRIBUTES & RESPONSE_ATTRIBUTES:
                figures["coverage"] = self._coverage(period, filters)
            if kinds <= CASE_ATTRIBUTES:
                figures.update(self._case_figures(period, filters))
            if kinds <= CASE_ATTRIBUTES & INTERACTION_ATTRIBUTES:
                figures["complaint_rate"] = self._complaint_rate(period, filters)
            self._cache[key] = figures
        return self._cache[key]

    def _responses(self, period: str, filters: Filters) -> list[_Response]:
        return [
            response
            for response in self.counted
            if period in response.periods and member(response.attributes, filters)
        ]

    def _dimensions(self, entries: Iterable[tuple[Any, ...]]) -> dict[str, list[float]]:
        scores: dict[str, list[float]] = defaultdict(list)
        for entry in entries:
            if entry[0] == "dim":
                scores[entry[1]].append(entry[2])
        return scores

    def _answer_figures(self, period: str, filters: Filters) -> dict[str, Expected]:
        entries = [e for r in self._responses(period, filters) for e in r.entries]
        nps = [entry[1] for entry in entries if entry[0] == "nps"]
        csat = [entry[1:] for entry in entries if entry[0] == "csat"]
        ces = [entry[1] for entry in entries if entry[0] == "ces"]
        fcr = [entry[1] for entry in entries if entry[0] == "fcr"]
        figures = {
            "nps": nps_of(nps),
            "csat": proportion(sum(1 for s, _lo, hi in csat if s >= hi - 1), len(csat)),
            "satisfaction": mean_of([normalise(s, lo, hi) for s, lo, hi in csat]),
            "ces": mean_of([float(score) for score in ces]),
            "ces_easy": proportion(sum(1 for score in ces if score >= 5), len(ces)),
            "fcr": proportion(sum(1 for answer in fcr if answer == 1), len(fcr)),
        }
        dimensions = self._dimensions(entries)
        weights = self.weights_on(last_day(period))
        taking_part = {code: values for code, values in dimensions.items() if code in weights}
        weight_sum = sum(weights[code] for code in taking_part)
        if weight_sum == 0:
            figures["composite"] = NO_DATA
        else:
            weighted = sum(
                weights[code] * statistics.fmean(values) for code, values in taking_part.items()
            )
            figures["composite"] = Expected(
                weighted / weight_sum, sum(len(values) for values in taking_part.values())
            )
        return figures

    def dimension_figures(self, period: str, filters: Filters | None = None) -> dict:
        filters = filters or {}
        entries = [e for r in self._responses(period, filters) for e in r.entries]
        return {code: mean_of(values) for code, values in self._dimensions(entries).items()}

    def _response_rate(self, period: str, filters: Filters) -> Expected:
        delivered = [
            invitation
            for invitation in self.invitations
            if period in invitation.periods
            and invitation.delivered_at is not None
            and member(invitation.attributes, filters)
        ]
        answered = sum(1 for invitation in delivered if invitation.id in self.answered)
        return proportion(answered, len(delivered))

    def _interactions(self, period: str, filters: Filters) -> list[_Event]:
        return [
            interaction
            for interaction in self.interactions
            if period in interaction.periods and member(interaction.attributes, filters)
        ]

    def _coverage(self, period: str, filters: Filters) -> Expected:
        customers = {x.customer for x in self._interactions(period, filters)}
        responded = {r.customer for r in self.counted if period in r.periods and r.customer}
        return proportion(len(customers & responded), len(customers))

    def _cohort(self, period: str, filters: Filters) -> list[_Case]:
        return [
            case
            for case in self.cases
            if period in case.periods and member(case.attributes, filters)
        ]

    def _is_repeated(self, complaint: _Case) -> bool:
        """Another complaint of the customer in the category in (resolution, + 30 days]."""
        resolved = complaint.resolved_at
        assert resolved is not None
        return complaint.customer is not None and any(
            other.kind == "complaint"
            and other.customer == complaint.customer
            and other.category == complaint.category
            and resolved < other.opened_at <= resolved + REPEAT_WINDOW
            for other in self.cases
        )

    def _case_figures(self, period: str, filters: Filters) -> dict[str, Expected]:
        cohort = self._cohort(period, filters)
        as_of = self.as_of
        complaints = [case for case in cohort if case.kind == "complaint"]
        resolved = [case for case in cohort if case.resolved_at is not None]
        resolved_complaints = [case for case in complaints if case.resolved_at is not None]
        nonrepeat = sum(1 for case in resolved_complaints if not self._is_repeated(case))
        window_open = any(
            case.resolved_at + REPEAT_WINDOW > as_of  # type: ignore[operator]
            for case in resolved_complaints
        )
        first_met = first_decided = resolution_met = resolution_decided = 0
        delays = []
        for case in cohort:
            # A resolution is also a response: the first response is the earlier of the two.
            responses = [m for m in (case.first_response_at, case.resolved_at) if m is not None]
            first = min(responses) if responses else None
            if first is not None:
                delays.append((first - case.opened_at).total_seconds() / 3600)
            met = first is not None and first - case.opened_at <= FIRST_RESPONSE_DEADLINE
            first_met += met
            first_decided += met or case.opened_at + FIRST_RESPONSE_DEADLINE < as_of
            met = (
                case.resolved_at is not None
                and case.resolved_at - case.opened_at <= RESOLUTION_DEADLINE
            )
            resolution_met += met
            resolution_decided += met or case.opened_at + RESOLUTION_DEADLINE < as_of
        return {
            "complaint_resolution": proportion(len(resolved_complaints), len(complaints)),
            "nonrepeat_resolution": replace(
                proportion(nonrepeat, len(complaints)), is_provisional=window_open
            ),
            "operational_fcr": proportion(
                sum(1 for case in resolved if case.contact_count == 1), len(resolved)
            ),
            "sla_first_response": proportion(first_met, first_decided),
            "sla_resolution": proportion(resolution_met, resolution_decided),
            "first_response_time": Expected(
                statistics.median(delays) if delays else None, len(delays)
            ),
            "problem_conversion": proportion(sum(1 for case in cohort if case.linked), len(cohort)),
        }

    def _complaint_rate(self, period: str, filters: Filters) -> Expected:
        complaints = sum(1 for c in self._cohort(period, filters) if c.kind == "complaint")
        interactions = len(self._interactions(period, filters))
        if interactions == 0:
            return NO_DATA
        if complaints > interactions:
            # More complaints than interactions: a rate, but not a proportion to test.
            return Expected(100 * complaints / interactions, interactions)
        return proportion(complaints, interactions)

    # ------------------------------------------------------------ outcome

    def repurchase_table(
        self, period: str, filters: Filters | None = None
    ) -> dict[str, list[dict[str, Any]]]:
        """Per scored kind and scale: answers, repurchases and open windows per band."""
        filters = filters or {}
        counts: dict[str, dict[tuple[int, int], list[int]]] = {}
        for response in self._responses(period, filters):
            if response.customer is None:
                continue
            assert response.submitted_at is not None
            start, end = response.submitted_at, response.submitted_at + self.repurchase_window
            bought = any(start < moment <= end for moment in self.purchases[response.customer])
            for entry in response.entries:
                if entry[0] not in ("nps", "csat"):
                    continue
                measure, score, low, high = entry
                table = counts.setdefault(
                    f"{measure} {low}-{high}", {band: [0, 0, 0] for band in BANDS[(low, high)]}
                )
                band = next(b for b in BANDS[(low, high)] if b[0] <= score <= b[1])
                if end > self.as_of:
                    table[band][2] += 1
                else:
                    table[band][0] += 1
                    table[band][1] += bought
        return {
            name: [
                {
                    "band": f"{first}-{last}",
                    "n": n,
                    "repurchased": bought,
                    "rate": 100 * bought / n if n else None,
                    "low": wilson(bought, n)[0] if n else None,
                    "high": wilson(bought, n)[1] if n else None,
                    "is_low_sample": 1 <= n <= 29,
                    "window_open": still_open,
                }
                for (first, last), (n, bought, still_open) in bands.items()
            ]
            for name, bands in sorted(counts.items())
        }

    def score_distribution(
        self, period: str, filters: Filters | None = None
    ) -> dict[str, list[dict[str, int]]]:
        """Counted answers per score of each scored kind and scale, every point listed."""
        counts: dict[tuple[str, int, int], dict[int, int]] = defaultdict(lambda: defaultdict(int))
        for response in self._responses(period, filters or {}):
            for entry in response.entries:
                if entry[0] == "score":
                    _tag, kind, score, low, high = entry
                    counts[(kind, low, high)][score] += 1
        return {
            f"{kind} {low}-{high}": [
                {"score": point, "count": counts[(kind, low, high)][point]}
                for point in range(low, high + 1)
            ]
            for kind, low, high in sorted(counts)
        }

    def complaint_categories(
        self, period: str, filters: Filters | None = None
    ) -> list[dict[str, Any]]:
        """Complaints opened in the period per category, most first, with the distinct
        identified customers; complaints have no survey."""
        filters = filters or {}
        if not set(filters) <= CASE_ATTRIBUTES:
            return []
        complaints: dict[int | None, list[_Case]] = defaultdict(list)
        for case in self._cohort(period, filters):
            if case.kind == "complaint":
                complaints[case.category].append(case)
        names = dict(ComplaintCategory.objects.values_list("pk", "name"))
        causes = dict(ComplaintCategory.objects.values_list("pk", "root_cause"))
        rows = [
            {
                "category_id": category,
                "name": names.get(category, "No category") if category else "No category",
                "root_cause": causes.get(category, "") if category else "",
                "complaints": len(cases),
                "customers": len({case.customer for case in cases if case.customer}),
            }
            for category, cases in complaints.items()
        ]
        return sorted(rows, key=lambda row: (-row["complaints"], row["name"]))

    # ------------------------------------------------------------ cases that must exist

    def follow_up_response_ids(self) -> set[int]:
        """Counted responses with a detractor NPS or a CSAT in the bottom two points."""
        return {
            response.id
            for response in self.counted
            if any(
                (entry[0] == "nps" and entry[1] <= 6)
                or (entry[0] == "csat" and entry[1] <= entry[2] + 1)
                for entry in response.entries
            )
        }
