"""A deterministic dataset for the metric oracle (tests/metrics/oracle.py).

`dataset_build(seed)` replays about five quarters of activity (2024Q3 to 2025Q3, as of
2025-08-20 12:00 Shanghai time) as a small event simulation: every step runs at its own
moment under time-machine, through the real services where they exist (`response_submit`,
the case services, `weights_set`) and through the ORM where none exists yet (interactions,
invitations, purchases, improvement actions, test/spam flags), followed by the matching
`metrics_apply_*` service. Every outbox event is processed right after the step that
recorded it, as a worker would, so follow-up cases open through the real path. At the end
the dirty periods are recomputed as of AS_OF: the incremental path, complete.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

import time_machine
from django.utils import timezone

from accounts.models import Team, User
from csat.models import OutboxEvent
from csat.outbox import outbox_drain
from feedback.models import Case, ComplaintCategory, ImprovementAction, RootCause
from feedback.services import (
    case_log_complaint,
    case_record_contact,
    case_record_first_response,
    case_resolve,
)
from metrics.periods import quarter_label
from metrics.services import (
    metrics_apply_case,
    metrics_apply_interaction,
    metrics_apply_invitation,
    metrics_apply_purchase,
    metrics_apply_response,
    metrics_recompute_dirty,
    metrics_refresh_open_periods,
    weights_set,
)
from surveys.models import (
    Answer,
    Channel,
    Customer,
    Dimension,
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
from surveys.services import response_submit

SHANGHAI = ZoneInfo("Asia/Shanghai")
SEED = 20250820
AS_OF = datetime(2025, 8, 20, 12, 0, tzinfo=SHANGHAI)
SETUP_AT = datetime(2024, 6, 1, 9, 0, tzinfo=SHANGHAI)
QUARTERS = [(2024, 3, 40), (2024, 4, 44), (2025, 1, 42), (2025, 2, 46), (2025, 3, 34)]
PERIODS = [f"{year}Q{quarter}" for year in (2024, 2025) for quarter in range(1, 5)]
PERIODS += ["2024", "2025"]
REPURCHASE_WINDOW = timedelta(hours=2160)
HOUR = timedelta(hours=1)
MINUTE = timedelta(minutes=1)
DAY = timedelta(days=1)

Step = Callable[[], None]


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A moment on the Shanghai clock."""
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


process_pending = outbox_drain


def recompute_dirty(as_of: datetime = AS_OF) -> int:
    """The periodic tasks at `as_of`: close the repurchase windows that closed by then (the
    hourly refresh), then claim every due dirty period; families use now = as_of."""
    ran = 0
    with time_machine.travel(as_of, tick=False):
        metrics_refresh_open_periods(now=as_of)
        while batch := metrics_recompute_dirty(now=as_of + MINUTE):
            ran += batch
    return ran


@dataclass(frozen=True)
class Work:
    """What staff do on a case, relative to its opening."""

    first_response: timedelta | None = None
    resolution: timedelta | None = None
    contacts: tuple[timedelta, ...] = ()


# Follow-ups start with no contact, complaints with one (the complaint itself).
SCENARIOS: list[Callable[[random.Random], Work]] = [
    lambda rng: Work(rng.randint(1, 20) * HOUR, rng.randint(22, 50) * HOUR, (30 * MINUTE,)),
    lambda rng: Work(24 * HOUR, 48 * HOUR, (HOUR, 2 * HOUR)),
    lambda rng: Work(24 * HOUR + MINUTE, 48 * HOUR + MINUTE, (HOUR,)),
    lambda rng: Work(None, rng.choice([6 * HOUR, 24 * HOUR, 24 * HOUR + MINUTE]), (HOUR,)),
    lambda rng: Work(2 * HOUR, 5 * DAY, (HOUR, 2 * DAY, 3 * DAY)),
    lambda rng: Work(3 * HOUR, None, (HOUR,)),
    lambda rng: Work(),
    lambda rng: Work(None, 30 * HOUR, ()),
    lambda rng: Work(20 * HOUR, 47 * HOUR, (2 * HOUR,)),
]


@dataclass
class Dataset:
    """Handles on the rows the tests single out."""

    as_of: datetime
    surveys: dict[str, int] = field(default_factory=dict)
    responses: dict[str, int] = field(default_factory=dict)
    customers: dict[str, int] = field(default_factory=dict)
    categories: list[int] = field(default_factory=list)
    invitations: dict[str, int] = field(default_factory=dict)
    cases: dict[str, int] = field(default_factory=dict)


class _Builder:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.queue: list[tuple[datetime, int, bool, Step]] = []
        self.sequence = 0
        self.scenario = 0
        self.data = Dataset(as_of=AS_OF)
        self.questions: dict[str, list[Question]] = {}
        self.rows: dict[int, list[GridRow]] = {}
        self.interactions: dict[str, Interaction] = {}
        self.interaction_count = 0

    # ------------------------------------------------------------ the simulation

    def at(self, moment: datetime, step: Step, records_events: bool = False) -> None:
        """Run `step` at `moment`; anything after the as-of moment has not happened yet.

        Steps that go through a service recording outbox events have their events processed
        right after them; ORM steps call their metrics service themselves.
        """
        if moment <= AS_OF:
            heapq.heappush(self.queue, (moment, self.sequence, records_events, step))
            self.sequence += 1

    def run(self, traveller: Any) -> None:
        while self.queue:
            moment, _sequence, records_events, step = heapq.heappop(self.queue)
            traveller.move_to(moment)
            step()
            if records_events:
                process_pending()

    # ------------------------------------------------------------ reference data

    def setup(self) -> None:
        self.team_a = Team.objects.create(name="Front desk")
        self.team_b = Team.objects.create(name="After-sales")
        self.owner = User.objects.create(username="olga.owner")
        self.agents = [
            User.objects.create(username=f"agent{index}", team=team)
            for index, team in enumerate(
                [self.team_a, self.team_a, self.team_b, self.team_b, self.team_a], start=1
            )
        ]
        # agent5 moves from the front desk to after-sales on 2025-01-01.
        self.mover = self.agents[4]
        self.touchpoints = {
            code: Touchpoint.objects.create(code=code, name=code.title(), position=position)
            for position, code in enumerate(["consultation", "delivery", "aftersales"])
        }
        self.dimensions = {
            code: Dimension.objects.create(code=code, name=code.title())
            for code in ["speed", "technical", "emotional", "process", "outcome", "ambience"]
        }
        self.categories = [
            ComplaintCategory.objects.create(name=name, root_cause=cause)
            for name, cause in [
                ("Waiting time", RootCause.PROCESS),
                ("Rude staff", RootCause.PEOPLE),
                ("Wrong bill", RootCause.POLICY),
                ("Broken device", RootCause.PRODUCT),
            ]
        ]
        self.data.categories = [category.pk for category in self.categories]
        segments = [Segment.HIGH_VALUE, Segment.NORMAL, Segment.CHURN_RISK]
        self.customers = [
            Customer.objects.create(external_id=f"c{index:02d}", segment=segments[index % 3])
            for index in range(1, 31)
        ]
        self.data.customers = {c.external_id: c.pk for c in self.customers}
        self._survey(
            "clinic",
            "consultation",
            [
                ("nps", True, None, "", "outcome"),
                ("csat", True, None, "", "emotional"),
                ("csat", False, (1, 7), "", None),
                ("ces", False, None, "", "process"),
                # A yes/no answer never counts toward a dimension, even when tagged.
                ("yes_no", True, None, "fcr", "speed"),
                ("rating_grid", False, (1, 5), "", None),
                ("text", False, None, "", None),
            ],
            grid=[
                ("Wait", "speed"),
                ("Skill", "technical"),
                ("Manner", "emotional"),
                ("Decor", ""),
            ],
        )
        self._survey(
            "delivery",
            "delivery",
            [
                ("nps", True, None, "", None),
                ("nps", False, None, "", None),
                ("csat", True, (1, 7), "", "technical"),
                ("yes_no", False, None, "", None),
            ],
        )
        self._survey(
            "support",
            "aftersales",
            [
                ("csat", True, (1, 10), "", "speed"),
                ("ces", False, (1, 7), "", None),
                ("yes_no", False, None, "fcr", None),
                ("nps", False, (0, 10), "", "outcome"),
            ],
        )
        self._survey(
            "facility",
            None,
            [("csat", True, (1, 5), "", "process"), ("rating_grid", False, (1, 7), "", None)],
            grid=[("Cleanliness", "ambience"), ("Signage", "process")],
            anonymous=True,
        )
        self._survey("boundary", None, [("nps", True, None, "", None)])
        # The brief's healthcare weights; "ambience" is never listed (so it is ignored).
        weights_set(
            effective_from=date(2024, 1, 1),
            weights={
                "speed": "15",
                "technical": "25",
                "emotional": "30",
                "process": "20",
                "outcome": "10",
            },
            user=self.owner,
        )

    def _survey(
        self,
        key: str,
        touchpoint: str | None,
        questions: list[tuple[str, bool, tuple[int, int] | None, str, str | None]],
        grid: list[tuple[str, str]] | None = None,
        anonymous: bool = False,
    ) -> None:
        survey = Survey.objects.create(
            title=key.title(),
            touchpoint=self.touchpoints[touchpoint] if touchpoint else None,
            is_anonymous=anonymous,
        )
        self.data.surveys[key] = survey.pk
        created = []
        for position, (kind, required, scale, role, dimension) in enumerate(questions, start=1):
            question = Question.objects.create(
                survey=survey,
                position=position,
                kind=kind,
                text=f"{key} {kind} {position}",
                is_required=required,
                scale_min=scale[0] if scale else None,
                scale_max=scale[1] if scale else None,
                role=role,
                dimension=self.dimensions[dimension] if dimension else None,
            )
            created.append(question)
            if kind == Question.Kind.RATING_GRID:
                self.rows[question.pk] = [
                    GridRow.objects.create(
                        question=question,
                        position=row_position,
                        label=label,
                        dimension=self.dimensions[code] if code else None,
                    )
                    for row_position, (label, code) in enumerate(grid or [], start=1)
                ]
        self.questions[key] = created
        setattr(self, f"survey_{key}", survey)

    # ------------------------------------------------------------ answers

    def _score(self, low: int, high: int, mood: str) -> int:
        span = high - low
        if mood == "high":
            return self.rng.choice([high - 1, high])
        if mood == "low":
            return self.rng.choice([low, low + 1])
        weights = [1 + 12 * (step / span) ** 3 for step in range(span + 1)]
        return low + self.rng.choices(range(span + 1), weights)[0]

    def answers(self, key: str, mood: str = "") -> dict[str, Any]:
        """Raw answers for a survey; optional questions are left blank now and then."""
        raw: dict[str, Any] = {}
        for question in self.questions[key]:
            if not question.is_required and self.rng.random() < 0.25:
                continue
            scale = question.scale
            if question.kind in (Question.Kind.NPS, Question.Kind.CSAT, Question.Kind.CES):
                assert scale is not None
                raw[str(question.pk)] = self._score(*scale, mood)
            elif question.kind == Question.Kind.YES_NO:
                raw[str(question.pk)] = self.rng.choice(["yes", "yes", "yes", "no"])
            elif question.kind == Question.Kind.RATING_GRID:
                assert scale is not None
                raw[str(question.pk)] = {
                    str(row.pk): self._score(*scale, mood)
                    for row in self.rows[question.pk]
                    if self.rng.random() < 0.8
                }
            elif question.kind == Question.Kind.TEXT:
                raw[str(question.pk)] = self.rng.choice(["Fine.", "Too slow.", "Kind staff."])
        return raw

    # ------------------------------------------------------------ steps

    def respond(
        self,
        moment: datetime,
        key: str,
        *,
        customer: Customer | None,
        agent: User | None,
        channel: str,
        mood: str = "",
        name: str = "",
        submission_key: str = "",
        invitation: str = "",
        mark_test: bool = False,
        purchases: tuple[timedelta, ...] = (),
    ) -> None:
        raw = self.answers(key, mood)
        self.at(
            moment,
            partial(
                self._respond, key, raw, customer, agent, channel, name, submission_key,
                invitation, mark_test,
            ),
        )  # fmt: skip
        if customer is not None and not getattr(self, f"survey_{key}").is_anonymous:
            for offset in purchases:
                self.at(moment + offset, partial(self._purchase, customer))

    def _respond(
        self,
        key: str,
        raw: dict[str, Any],
        customer: Customer | None,
        agent: User | None,
        channel: str,
        name: str,
        submission_key: str,
        invitation: str,
        mark_test: bool,
    ) -> None:
        response, created = response_submit(
            survey=getattr(self, f"survey_{key}"),
            raw_answers=raw,
            channel=channel,
            submission_key=submission_key or None,
            customer=customer,
            agent=agent,
        )
        if not created:
            raise AssertionError(f"response {name or key} was not stored")
        if invitation:
            Response.objects.filter(pk=response.pk).update(
                invitation_id=self.data.invitations[invitation]
            )
        if mark_test:
            # Marked before the worker picks the event up: it never counts, opens no case.
            Response.objects.filter(pk=response.pk).update(is_test=True)
        if name:
            self.data.responses[name] = response.pk
        process_pending()
        case = Case.objects.filter(response_id=response.pk).first()
        if case is not None:
            self.work(case.pk, case.opened_at, self.next_work())

    def resubmit(self, moment: datetime, key: str, submission_key: str, name: str) -> None:
        raw = self.answers(key)
        self.at(moment, partial(self._resubmit, key, raw, submission_key, name))

    def _resubmit(self, key: str, raw: dict[str, Any], submission_key: str, name: str) -> None:
        response, created = response_submit(
            survey=getattr(self, f"survey_{key}"), raw_answers=raw, submission_key=submission_key
        )
        if created or response.pk != self.data.responses[name]:
            raise AssertionError("a re-submission with the same key stored a second response")

    def flag(self, moment: datetime, name: str, flag: str, value: bool) -> None:
        self.at(moment, partial(set_flag, self.data, name, flag, value))

    def partial_response(
        self, moment: datetime, key: str, customer: Customer, **extra: Any
    ) -> None:
        raw = self.answers(key)
        self.at(moment, partial(self._partial, key, raw, customer, extra))

    def _partial(
        self, key: str, raw: dict[str, Any], customer: Customer, extra: dict[str, Any]
    ) -> None:
        # No service saves a partial response yet: the row a half-filled form would leave.
        fields = {name: value for name, value in extra.items() if name != "invitation"}
        if "invitation" in extra:
            fields["invitation_id"] = self.data.invitations[extra["invitation"]]
        response = Response.objects.create(
            survey=getattr(self, f"survey_{key}"),
            channel=Channel.WEB,
            status=Response.Status.PARTIAL,
            customer=customer,
            segment=customer.segment,
            submitted_at=None,
            **fields,
        )
        questions = {str(question.pk): question for question in self.questions[key]}
        Answer.objects.bulk_create(
            Answer(response=response, question=questions[pk], number=value)
            for pk, value in raw.items()
            if isinstance(value, int)
        )
        metrics_apply_response(response.pk)

    def next_work(self) -> Work:
        scenario = SCENARIOS[self.scenario % len(SCENARIOS)]
        self.scenario += 1
        return scenario(self.rng)

    def work(self, case_id: int, opened: datetime, work: Work) -> None:
        for offset in work.contacts:
            self.at(opened + offset, partial(self._contact, case_id), records_events=True)
        if work.first_response is not None:
            step = partial(self._first_response, case_id)
            self.at(opened + work.first_response, step, records_events=True)
        if work.resolution is not None:
            self.at(opened + work.resolution, partial(self._resolve, case_id), records_events=True)

    def _contact(self, case_id: int) -> None:
        case_record_contact(case=Case.objects.get(pk=case_id))

    def _first_response(self, case_id: int) -> None:
        case_record_first_response(case=Case.objects.get(pk=case_id))

    def _resolve(self, case_id: int) -> None:
        case_resolve(case=Case.objects.get(pk=case_id), resolution="Called back; fixed.")

    def complain(
        self,
        moment: datetime,
        *,
        customer: Customer | None,
        category: int,
        channel: str,
        work: Work | None = None,
        interaction: str = "",
        agent: User | None = None,
        name: str = "",
    ) -> None:
        self.at(
            moment,
            partial(self._complain, customer, category, channel, work, interaction, agent, name),
            records_events=True,
        )

    def _complain(
        self,
        customer: Customer | None,
        category: int,
        channel: str,
        work: Work | None,
        interaction: str,
        agent: User | None,
        name: str,
    ) -> None:
        case = case_log_complaint(
            category=self.categories[category],
            channel=channel,
            summary="Customer complaint.",
            customer=customer,
            interaction=self.interactions[interaction] if interaction else None,
            agent=agent,
        )
        if name:
            self.data.cases[name] = case.pk
        self.work(case.pk, case.opened_at, work or self.next_work())

    def interact(
        self, moment: datetime, customer: Customer, agent: User | None, touchpoint: str | None
    ) -> str:
        self.interaction_count += 1
        key = f"interaction{self.interaction_count}"
        self.at(moment, partial(self._interact, key, customer, agent, touchpoint))
        return key

    def _interact(
        self, key: str, customer: Customer, agent: User | None, touchpoint: str | None
    ) -> None:
        interaction = Interaction.objects.create(
            customer=customer,
            touchpoint=self.touchpoints[touchpoint] if touchpoint else None,
            agent=agent,
            team_id=agent.team_id if agent else None,
            segment=customer.segment,
            occurred_at=timezone.now(),
            quarter=quarter_label(timezone.now()),
        )
        self.interactions[key] = interaction
        metrics_apply_interaction(interaction.pk)

    def invite(
        self,
        moment: datetime,
        name: str,
        key: str,
        customer: Customer,
        agent: User | None,
        channel: str,
        delivered_after: timedelta | None,
    ) -> None:
        self.at(moment, partial(self._invite, name, key, customer, agent, channel, delivered_after))

    def _invite(
        self,
        name: str,
        key: str,
        customer: Customer,
        agent: User | None,
        channel: str,
        delivered_after: timedelta | None,
    ) -> None:
        survey = getattr(self, f"survey_{key}")
        now = timezone.now()
        invitation = Invitation.objects.create(
            survey=survey,
            customer=customer,
            channel=channel,
            status=Invitation.Status.DELIVERED if delivered_after else Invitation.Status.SENT,
            agent=agent,
            team_id=agent.team_id if agent else None,
            touchpoint=survey.touchpoint,
            segment=customer.segment,
            due_at=now,
            sent_at=now,
            quarter=quarter_label(now),
            delivered_at=now + delivered_after if delivered_after else None,
        )
        self.data.invitations[name] = invitation.pk
        metrics_apply_invitation(invitation.pk)

    def _purchase(self, customer: Customer) -> None:
        purchase = Purchase.objects.create(
            customer=customer, purchased_at=timezone.now(), amount=Decimal("99.00")
        )
        metrics_apply_purchase(purchase.pk)

    def link_actions(self, moment: datetime, title: str, count: int) -> None:
        self.at(moment, partial(self._link_actions, title, count))

    def _link_actions(self, title: str, count: int) -> None:
        # No service links cases to actions yet: the ORM, then the case's metrics update.
        action = ImprovementAction.objects.create(
            title=title,
            owner=self.owner,
            lead_department="Operations",
            deadline=date(2025, 12, 31),
        )
        case_ids = sorted(Case.objects.values_list("pk", flat=True))
        chosen = self.rng.sample(case_ids, min(count, len(case_ids)))
        action.cases.add(*chosen)
        for case_id in chosen:
            metrics_apply_case(case_id)

    def move_agent(self, moment: datetime) -> None:
        def step() -> None:
            self.mover.team = self.team_b
            self.mover.save(update_fields=["team"])

        self.at(moment, step)

    def change_segment(self, moment: datetime, customer: Customer, segment: str) -> None:
        def step() -> None:
            customer.segment = segment
            customer.save(update_fields=["segment"])

        self.at(moment, step)

    def set_weights(self, moment: datetime, effective_from: date, weights: dict[str, str]) -> None:
        def step() -> None:
            weights_set(effective_from=effective_from, weights=weights, user=self.owner)

        self.at(moment, step)

    # ------------------------------------------------------------ the plan

    def plan(self) -> None:
        rng = self.rng
        customers, agents = self.customers, self.agents
        channels = [Channel.WEB, Channel.EMAIL, Channel.SMS, Channel.QR, Channel.PHONE, Channel.API]
        purchase_offsets = [
            DAY,
            20 * DAY,
            89 * DAY,
            REPURCHASE_WINDOW,  # exactly at the end of the window: still a repurchase
            REPURCHASE_WINDOW + MINUTE,  # just after: not one
            timedelta(0),  # at the submission itself: not strictly after
            130 * DAY,
            45 * DAY,
        ]
        purchase_turn = 0
        for year, quarter, count in QUARTERS:
            start = local(year, 3 * quarter - 2, 1)
            end = min(local(year + quarter // 4, quarter % 4 * 3 + 1, 1), AS_OF - 36 * HOUR)
            minutes = int((end - start).total_seconds() // 60)
            for _index in range(count):
                moment = start + rng.randrange(minutes) * MINUTE
                key = rng.choices(["clinic", "delivery", "support", "facility"], [7, 5, 5, 3])[0]
                customer = rng.choice(customers) if rng.random() < 0.8 else None
                offsets: tuple[timedelta, ...] = ()
                if customer is not None and rng.random() < 0.5:
                    offsets = (purchase_offsets[purchase_turn % len(purchase_offsets)],)
                    purchase_turn += 1
                self.respond(
                    moment,
                    key,
                    customer=customer,
                    agent=rng.choice(agents) if rng.random() < 0.75 else None,
                    channel=rng.choice(channels),
                    purchases=offsets,
                )
        self._plan_specials()
        self._plan_complaints()
        self._plan_reach()
        self.move_agent(local(2025, 1, 1))
        self.change_segment(local(2025, 2, 15, 9), customers[4], Segment.HIGH_VALUE)
        self.set_weights(
            local(2025, 4, 20, 10),
            date(2025, 5, 1),
            {"speed": "40", "technical": "30", "emotional": "30", "process": "0"},
        )
        self.set_weights(
            local(2025, 7, 1, 10),
            date(2025, 12, 31),
            {"speed": "33.33", "technical": "33.33", "emotional": "33.34"},
        )
        self.link_actions(local(2025, 2, 1, 10), "Shorter queues", 14)
        self.link_actions(local(2025, 8, 10, 10), "Courtesy training", 10)

    def _plan_specials(self) -> None:
        customers, agents = self.customers, self.agents
        # The quarter boundary on the Shanghai clock (15:30 and 16:10 UTC on 2025-03-31).
        self.respond(
            local(2025, 3, 31, 23, 30), "boundary", customer=customers[2], agent=agents[0],
            channel=Channel.WEB, mood="high", name="boundary_q1",
        )  # fmt: skip
        self.respond(
            local(2025, 4, 1, 0, 10), "boundary", customer=None, agent=agents[0],
            channel=Channel.WEB, mood="low", name="boundary_q2",
        )  # fmt: skip
        # A double click: the same form key twice stores one response.
        self.respond(
            local(2024, 11, 5, 10), "clinic", customer=customers[7], agent=agents[1],
            channel=Channel.WEB, submission_key="form-7f3a", name="duplicate",
        )  # fmt: skip
        self.resubmit(local(2024, 11, 5, 10, 1), "clinic", "form-7f3a", "duplicate")
        # Partial responses never count, whatever they carry.
        self.partial_response(local(2024, 9, 3, 10), "clinic", customers[0])
        self.partial_response(local(2025, 5, 6, 10), "support", customers[1], quarter="2025Q2")
        # Test and spam: one detractor marked test before the worker runs (no case), a
        # promoter marked test later, a promoter marked spam later.
        self.respond(
            local(2024, 8, 14, 15), "clinic", customer=customers[3], agent=agents[2],
            channel=Channel.QR, mood="low", mark_test=True, name="test_detractor",
        )  # fmt: skip
        self.respond(
            local(2025, 1, 9, 11), "delivery", customer=customers[5], agent=agents[3],
            channel=Channel.SMS, mood="high", name="test_later",
        )  # fmt: skip
        self.flag(local(2025, 1, 12, 9), "test_later", "is_test", True)
        self.respond(
            local(2025, 4, 22, 16), "support", customer=customers[6], agent=agents[1],
            channel=Channel.WEB, mood="high", name="spam_later",
        )  # fmt: skip
        self.flag(local(2025, 4, 25, 9), "spam_later", "is_spam", True)
        # Cases opened close to the as-of moment: their deadlines are still running.
        self.respond(
            AS_OF - 30 * HOUR, "support", customer=customers[8], agent=agents[2],
            channel=Channel.PHONE, mood="low", name="late_30h",
        )  # fmt: skip
        self.respond(
            AS_OF - 10 * HOUR, "clinic", customer=None, agent=agents[3],
            channel=Channel.QR, mood="low", name="late_10h",
        )  # fmt: skip
        self.respond(
            AS_OF - 20 * HOUR, "facility", customer=customers[9], agent=None,
            channel=Channel.QR, mood="low", name="late_anonymous",
        )  # fmt: skip

    def _plan_complaints(self) -> None:
        customers, agents, rng = self.customers, self.agents, self.rng
        repeaters = {name: customers[index] for index, name in enumerate("ABCDEFG", start=9)}
        # A: the next complaint exactly 30 days after the resolution is a repeat.
        self.complain(
            local(2024, 8, 5, 10), customer=repeaters["A"], category=0, channel=Channel.PHONE,
            work=Work(2 * HOUR, 24 * HOUR),
        )  # fmt: skip
        self.complain(
            local(2024, 9, 5, 10), customer=repeaters["A"], category=0, channel=Channel.PHONE,
            work=Work(None, 20 * HOUR),
        )  # fmt: skip
        # B: one minute after the window is not a repeat; another category is not either.
        self.complain(
            local(2024, 10, 10, 9), customer=repeaters["B"], category=1, channel=Channel.EMAIL,
            work=Work(HOUR, 24 * HOUR, (2 * HOUR,)),
        )  # fmt: skip
        self.complain(
            local(2024, 11, 10, 9, 1), customer=repeaters["B"], category=1,
            channel=Channel.EMAIL, work=Work(HOUR, 10 * HOUR),
        )  # fmt: skip
        self.complain(
            local(2024, 10, 13, 9), customer=repeaters["B"], category=2, channel=Channel.WEB,
            work=Work(HOUR, 30 * HOUR),
        )  # fmt: skip
        # C: a complaint opened before the resolution, and one exactly at it: no repeat of
        # the first (the window is (resolution, resolution + 30 days]).
        self.complain(
            local(2025, 1, 20, 9), customer=repeaters["C"], category=0, channel=Channel.SMS,
            work=Work(5 * HOUR, 72 * HOUR),
        )  # fmt: skip
        self.complain(
            local(2025, 1, 21, 9), customer=repeaters["C"], category=0, channel=Channel.SMS,
            work=Work(None, 10 * HOUR),
        )  # fmt: skip
        self.complain(
            local(2025, 1, 23, 9), customer=repeaters["C"], category=0, channel=Channel.SMS,
            work=Work(2 * HOUR, 26 * HOUR),
        )  # fmt: skip
        # D: resolved in 2025Q1, repeated in 2025Q2.
        self.complain(
            local(2025, 3, 20, 10), customer=repeaters["D"], category=3, channel=Channel.PHONE,
            work=Work(3 * HOUR, 5 * DAY),
        )  # fmt: skip
        self.complain(
            local(2025, 4, 10, 10), customer=repeaters["D"], category=3, channel=Channel.PHONE,
            work=Work(3 * HOUR, 40 * HOUR),
        )  # fmt: skip
        # E: resolved on 2024-12-20 (a later test logs a repeat in 2025).
        self.complain(
            local(2024, 12, 18, 9), customer=repeaters["E"], category=1, channel=Channel.WEB,
            work=Work(HOUR, 49 * HOUR),
        )  # fmt: skip
        # F, G: windows still open at the as-of moment (provisional 2025Q2 and 2025Q3).
        self.complain(
            local(2025, 6, 28, 10), customer=repeaters["F"], category=2, channel=Channel.EMAIL,
            work=Work(4 * HOUR, 32 * DAY),
        )  # fmt: skip
        self.complain(
            local(2025, 8, 1, 10), customer=repeaters["G"], category=0, channel=Channel.PHONE,
            work=Work(4 * HOUR, DAY),
        )  # fmt: skip
        # Anonymous complaints never repeat: no customer to match.
        self.complain(
            local(2024, 10, 1, 12), customer=None, category=0, channel=Channel.PHONE,
            work=Work(HOUR, 2 * HOUR), agent=agents[0],
        )  # fmt: skip
        self.complain(
            local(2024, 10, 11, 12), customer=None, category=0, channel=Channel.PHONE,
            work=Work(HOUR, 2 * HOUR),
        )  # fmt: skip
        # The mover served this customer on 2024-12-30 (front desk); the complaint about it
        # is logged on 2025-01-02, after the move to after-sales.
        straddle = self.interact(local(2024, 12, 30, 10), customers[6], self.mover, "delivery")
        self.complain(
            local(2025, 1, 2, 9), customer=None, category=3, channel=Channel.PHONE,
            interaction=straddle, name="after_team_move",
        )  # fmt: skip
        # Random complaints, half about an interaction, from customers outside the chains.
        others = customers[:9] + customers[16:]
        for _index in range(26):
            moment = AS_OF - rng.randrange(int((AS_OF - local(2024, 7, 2)) / HOUR)) * HOUR
            if moment > AS_OF - 3 * HOUR:
                continue
            customer = rng.choice(others) if rng.random() < 0.9 else None
            interaction = ""
            agent = None
            if customer is not None and rng.random() < 0.5:
                interaction = self.interact(
                    moment - rng.randint(1, 48) * HOUR,
                    customer,
                    rng.choice(agents),
                    rng.choice(["consultation", "delivery", "aftersales", None]),
                )
            elif rng.random() < 0.5:
                agent = rng.choice(agents)
            self.complain(
                moment,
                customer=customer,
                category=rng.randrange(4),
                channel=rng.choice([Channel.PHONE, Channel.EMAIL, Channel.WEB, Channel.SMS]),
                interaction=interaction,
                agent=agent,
            )

    def _plan_reach(self) -> None:
        customers, agents, rng = self.customers, self.agents, self.rng
        span_hours = int((AS_OF - 2 * DAY - local(2024, 7, 1)) / HOUR)
        # Touchpoint events: some customers answer in the same period, some never do.
        for _index in range(120):
            self.interact(
                local(2024, 7, 1) + rng.randrange(span_hours) * HOUR,
                rng.choice(customers),
                rng.choice(agents) if rng.random() < 0.85 else None,
                rng.choice(["consultation", "delivery", "aftersales", "aftersales", None]),
            )
        # Invitations: delivered (some answered), failed, or sent and not delivered yet.
        for index in range(44):
            moment = local(2024, 7, 1) + rng.randrange(span_hours) * HOUR
            key = rng.choice(["clinic", "delivery", "support"])
            customer = rng.choice(customers)
            agent = rng.choice(agents) if rng.random() < 0.8 else None
            channel = rng.choice([Channel.EMAIL, Channel.SMS])
            outcome = rng.random()
            delivered = 3 * MINUTE if outcome < 0.8 else None
            self.invite(moment, f"i{index}", key, customer, agent, channel, delivered)
            if delivered and rng.random() < 0.6:
                self.respond(
                    moment + rng.randint(2, 200) * HOUR, key, customer=customer, agent=agent,
                    channel=channel, invitation=f"i{index}",
                )  # fmt: skip
        # A reply arriving in the next quarter (and the next year) counts for the send quarter.
        self.invite(
            local(2024, 12, 28, 10), "cross_year", "delivery", customers[20], agents[3],
            Channel.EMAIL, 2 * MINUTE,
        )  # fmt: skip
        self.respond(
            local(2025, 1, 3, 20), "delivery", customer=customers[20], agent=agents[3],
            channel=Channel.EMAIL, mood="high", invitation="cross_year", name="cross_year_reply",
        )  # fmt: skip
        self.invite(
            local(2025, 3, 30, 10), "cross_quarter", "support", customers[21], agents[2],
            Channel.SMS, MINUTE,
        )  # fmt: skip
        self.respond(
            local(2025, 4, 2, 8), "support", customer=customers[21], agent=agents[2],
            channel=Channel.SMS, mood="high", invitation="cross_quarter",
        )  # fmt: skip
        # The spam candidate of the tests: a promoter answering an invitation of its own
        # quarter, served in that quarter, who buys ten days later (closed window).
        self.interact(local(2025, 2, 8, 11), customers[22], agents[0], "consultation")
        self.invite(
            local(2025, 2, 10, 9), "showcase", "clinic", customers[22], agents[0],
            Channel.EMAIL, 2 * MINUTE,
        )  # fmt: skip
        self.respond(
            local(2025, 2, 11, 10), "clinic", customer=customers[22], agent=agents[0],
            channel=Channel.EMAIL, mood="high", invitation="showcase", name="showcase",
            purchases=(10 * DAY,),
        )  # fmt: skip
        # A test response and a partial response carrying delivered invitations: unanswered.
        self.invite(
            local(2025, 5, 3, 9), "answered_by_test", "delivery", customers[23], agents[3],
            Channel.SMS, MINUTE,
        )  # fmt: skip
        self.respond(
            local(2025, 5, 3, 18), "delivery", customer=customers[23], agent=agents[3],
            channel=Channel.SMS, invitation="answered_by_test", mark_test=True,
        )  # fmt: skip
        self.invite(
            local(2024, 8, 20, 9), "answered_by_partial", "clinic", customers[24], agents[1],
            Channel.EMAIL, MINUTE,
        )  # fmt: skip
        self.partial_response(
            local(2024, 8, 21, 9), "clinic", customers[24], invitation="answered_by_partial"
        )
        # Sent a minute before the as-of moment, delivered two minutes after it.
        self.invite(
            AS_OF - MINUTE, "in_flight", "support", customers[25], agents[2], Channel.SMS,
            3 * MINUTE,
        )  # fmt: skip


def set_flag(data: Dataset, name: str, flag: str, value: bool) -> None:
    """Mark a response test or spam (or not), then let the metrics catch up."""
    Response.objects.filter(pk=data.responses[name]).update(**{flag: value})
    metrics_apply_response(data.responses[name])


def dataset_build(seed: int = SEED, settle: bool = True) -> Dataset:
    """Build the dataset through the services; with `settle`, recompute dirty periods."""
    builder = _Builder(seed)
    with time_machine.travel(SETUP_AT, tick=False) as traveller:
        builder.setup()
        builder.plan()
        builder.run(traveller)
    if OutboxEvent.objects.filter(processed_at__isnull=True).exists():
        raise AssertionError("an outbox event was left unprocessed")
    if settle:
        recompute_dirty(AS_OF)
    return builder.data
