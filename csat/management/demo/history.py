# ruff: noqa: RUF001 (Chinese text uses full-width punctuation)
"""The demo's history: three log-ins, teams, touchpoints, dimensions and weights, targets, and
two years of responses, interactions, invitations, cases and purchases with believable trends."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from typing import Any

from django.contrib.auth.models import Group
from django.utils import timezone

from accounts.models import Role, Team, User
from accounts.services import user_create
from csat.management.demo.answers import daytime
from feedback.models import Case, ComplaintCategory, ImprovementAction, RootCause
from metrics.periods import Quarter, quarter_label
from metrics.services import weights_set
from metrics.targets import target_set
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
from surveys.services import survey_create_nps

DEMO_PASSWORD = "csat-demo"
DEMO_USERS = [("staff", Role.STAFF), ("manager", Role.MANAGER), ("admin", Role.ADMIN)]
AGENT_NAMES = [("Na", "Li"), ("Wei", "Zhang"), ("Grace", "Chen")]
SURNAMES_ZH = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"
GIVEN_ZH = [
    "伟",
    "芳",
    "娜",
    "敏",
    "静",
    "磊",
    "洋",
    "艳",
    "勇",
    "军",
    "杰",
    "娟",
    "涛",
    "明",
    "超",
    "秀英",
    "丽",
    "强",
    "婷",
    "佳怡",
]
FIRST_EN = [
    "Ann",
    "Ben",
    "Chloe",
    "David",
    "Emma",
    "Frank",
    "Grace",
    "Henry",
    "Iris",
    "Jack",
    "Kate",
    "Leo",
    "Mia",
    "Noah",
    "Olivia",
    "Peter",
    "Ruby",
    "Sam",
    "Tom",
    "Vera",
]
LAST_EN = ["Lee", "Wong", "Smith", "Chan", "Brown", "Ng", "Taylor", "Lam", "Wilson", "Ho"]
TOUCHPOINTS = [
    ("first-consultation", "First consultation"),
    ("product-delivery", "Product delivery"),
    ("after-sales-support", "After-sales support"),
]
# The Chinese text of the history's surveys: a Chinese reader sees no English title or question.
TOUCHPOINT_ZH = {
    "first-consultation": "首次咨询",
    "product-delivery": "产品交付",
    "after-sales-support": "售后支持",
}
NPS_SURVEY_ZH = {
    "title": "{touchpoint}：您有多大可能向他人推荐我们？",
    "nps": "您有多大可能向朋友或同事推荐我们？",
    "why": "您给出这个分数的主要原因是什么？",
}
SERVICE_SURVEY_ZH = {
    "title": "售后服务质量",
    "csat": "您对本次服务总体满意吗？",
    "ces": "获得帮助是否省心？",
    "fcr": "您的问题是否在首次联系时就得到解决？",
    "grid": "请为服务的各个方面打分",
}
DIMENSION_ZH = {
    "response-speed": "响应速度",
    "technical-ability": "技术能力",
    "emotional-value": "情感价值",
    "process-experience": "流程体验",
    "outcome": "结果满意度",
}
# The brief's healthcare example of dimension weights.
DIMENSIONS = [
    ("response-speed", "Response speed", 15),
    ("technical-ability", "Technical ability", 25),
    ("emotional-value", "Emotional value", 30),
    ("process-experience", "Process experience", 20),
    ("outcome", "Outcome satisfaction", 10),
]
# Complaint categories, most frequent first (a Pareto: a vital few carry most complaints).
CATEGORIES = [
    ("Slow after-sales response", RootCause.PROCESS, 40),
    ("Not personal enough", RootCause.PEOPLE, 22),
    ("Product defect", RootCause.PRODUCT, 14),
    ("Billing error", RootCause.TOOLS, 10),
    ("Long wait in store", RootCause.ENVIRONMENT, 8),
    ("Return policy too strict", RootCause.POLICY, 6),
]
REASONS = [
    "Quick and friendly answer.",
    "After-sales response was slow.",
    "The engineer fixed it on the first visit.",
    "Not personal enough.",
    "Delivery arrived a day late.",
    "Great follow-up call.",
]
# Targets (metric, baseline, target, stretch, benchmark) with the brief's quarterly plan 3, 5, 4, 6.
# This year's are the brief's figures; last year's are the demo's assumption of the road to them.
PLAN_WEIGHTS = {"weight_q1": 3, "weight_q2": 5, "weight_q3": 4, "weight_q4": 6}
TARGETS_THIS_YEAR = [
    ("nps", 42, 58, 62, 65),
    ("nonrepeat_resolution", 68, 85, 90, None),
    ("fcr", 76, 88, 90, None),
    ("operational_fcr", 76, 88, None, None),
    ("satisfaction", 75, 85, 88, None),
    ("complaint_rate", 6, 5, 4, None),  # the brief: below 5 %
    ("first_response_time", 24, 4, 2, None),  # the brief: after-sales response 24 h -> 4 h
]
TARGETS_LAST_YEAR = [
    ("nps", 30, 42, 45, 65),
    ("nonrepeat_resolution", 60, 68, None, None),
    ("fcr", 70, 76, None, None),
    ("operational_fcr", 70, 76, None, None),
    ("satisfaction", 70, 75, None, None),
    ("complaint_rate", 7, 6, None, None),
    ("first_response_time", 30, 24, None, None),
]
# A segment's own target: high-value customers are held to more.
SEGMENT_TARGETS = [("nps", Segment.HIGH_VALUE, 48, 64, 68, 70)]
# Repurchase within 90 days by NPS band (the brief: 15%, 32%, 58%, 72%).
# What staff wrote when they closed a demo case.
RESOLUTIONS = (
    "Called the customer back, apologised and explained what went wrong.",
    "Replacement sent by express delivery; the customer confirmed it arrived.",
    "Refunded the service fee and logged the fault with the workshop.",
    "Re-did the repair on site the next day; the customer is satisfied.",
    "Explained the warranty terms by phone and booked a free check-up.",
)

REPURCHASE = {0: 0.08, 1: 0.08, 2: 0.08, 3: 0.15, 4: 0.15, 5: 0.32, 6: 0.32, 7: 0.58, 8: 0.58}


def customer_name(rng: random.Random, language: str) -> str:
    """A believable name for a customer who speaks `language`."""
    if language == "zh-hans":
        return rng.choice(SURNAMES_ZH) + rng.choice(GIVEN_ZH)
    return f"{rng.choice(FIRST_EN)} {rng.choice(LAST_EN)}"


class History:
    """Two years of quarters: every channel, segment, touchpoint and team, cases, purchases,
    targets. Written with bulk_create (thousands of rows: a service call per row would take
    minutes); the newer features are shown through their services (csat/management/demo/)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.now = timezone.now()
        self.questions_by_survey: dict[int, list[Question]] = {}
        self.quarters = [Quarter.current()]
        for _index in range(7):
            self.quarters.insert(0, self.quarters[0].previous())

    def load(self) -> None:
        support = Team.objects.create(name="Support desk")
        after_sales = Team.objects.create(name="After-sales")
        users = {
            name: user_create(
                username=name,
                password=DEMO_PASSWORD,
                role=role,
                team=support if role == Role.STAFF else None,
                email=f"{name}@example.com",
            )
            for name, role in DEMO_USERS
        }
        self.manager = users["manager"]
        # More agents who served customers; they never log in (no password to hash: hashing
        # takes a good part of a second each).
        staff_group = Group.objects.get(name=Role.STAFF)
        self.users = users
        self.teams = {"support": support, "after_sales": after_sales}
        self.agents = [users["staff"]]
        for i, team in enumerate([support, after_sales, after_sales], start=1):
            first, last = AGENT_NAMES[i - 1]
            agent = User.objects.create_user(
                username=f"agent{i}", password=None, team=team, first_name=first, last_name=last
            )
            agent.groups.add(staff_group)
            self.agents.append(agent)
        self.touchpoints = [
            Touchpoint.objects.create(code=code, name=name, position=index)
            for index, (code, name) in enumerate(TOUCHPOINTS)
        ]
        self.dimensions = [
            Dimension.objects.create(code=code, name=name) for code, name, _weight in DIMENSIONS
        ]
        first_day = self.quarters[0].start.date()
        weights_set(
            effective_from=date(first_day.year, 1, 1),
            weights={code: weight for code, _name, weight in DIMENSIONS},
            user=users["admin"],
        )
        self._targets(users["admin"])
        self.categories = [
            ComplaintCategory.objects.create(name=name, root_cause=cause)
            for name, cause, _share in CATEGORIES
        ]
        segments = [Segment.HIGH_VALUE] * 2 + [Segment.NORMAL] * 6 + [Segment.CHURN_RISK] * 2
        # Names come from a random stream of their own, so the history's figures do not move.
        names = random.Random(7)
        customers = []
        for index in range(1, 3001):
            segment = self.rng.choice(segments)
            language = self.rng.choice(["zh-hans", "en"])
            customers.append(
                Customer(
                    external_id=f"C{index:05d}",
                    name=customer_name(names, language),
                    email=f"customer{index}@example.com",
                    phone=f"+86138{index:08d}",
                    segment=segment,
                    language=language,
                )
            )
        self.customers = Customer.objects.bulk_create(customers)
        nps_surveys = [
            survey_create_nps(
                title=f"{touchpoint.name}: how likely are you to recommend us?",
                nps_question="How likely are you to recommend us to a friend or colleague?",
                why_question="What is the main reason for your score?",
                touchpoint=touchpoint,
                created_by=users["staff"],
            )
            for touchpoint in self.touchpoints
        ]
        for survey, touchpoint in zip(nps_surveys, self.touchpoints, strict=True):
            _translate_nps_survey(survey, TOUCHPOINT_ZH.get(touchpoint.code, touchpoint.name))
        service = self._service_survey(users["staff"])
        self.nps_surveys, self.service = nps_surveys, service
        for step, period in enumerate(self.quarters):
            self._quarter(step, period, nps_surveys, service)
        self._settle_actions()

    def _settle_actions(self) -> None:
        """Actions long past their deadline are done, one just past it is still in progress:
        a manager's first look shows a working plan, not a wall of overdue actions."""
        today = timezone.localdate(self.now)
        for action in ImprovementAction.objects.all():
            if action.deadline < today - timedelta(days=30):
                action.status = ImprovementAction.Status.DONE
            elif action.deadline < today:
                action.status = ImprovementAction.Status.IN_PROGRESS
            action.save(update_fields=["status"])

    def _targets(self, admin: User) -> None:
        this_year = self.quarters[-1].year
        plans = [(this_year, "", row) for row in TARGETS_THIS_YEAR]
        plans += [(this_year - 1, "", row) for row in TARGETS_LAST_YEAR]
        plans += [(this_year, segment, (m, *rest)) for m, segment, *rest in SEGMENT_TARGETS]
        for year, segment, (metric, baseline, target, stretch, benchmark) in plans:
            target_set(
                metric=metric,
                year=year,
                segment=segment,
                values={
                    "baseline": baseline,
                    "target": target,
                    "stretch": stretch,
                    "benchmark": benchmark,
                    **PLAN_WEIGHTS,
                },
                user=admin,
            )

    def _service_survey(self, author: User) -> Survey:
        survey = Survey.objects.create(
            title="After-sales service quality",
            touchpoint=self.touchpoints[2],
            team=author.team,
            created_by=author,
        )
        self.service_questions = {
            "csat": Question.objects.create(
                survey=survey, position=1, kind="csat", text="How satisfied are you overall?"
            ),
            "ces": Question.objects.create(
                survey=survey, position=2, kind="ces", text="How easy was it to get help?"
            ),
            "fcr": Question.objects.create(
                survey=survey,
                position=3,
                kind="yes_no",
                role="fcr",
                text="Was your issue resolved on first contact?",
            ),
            "grid": Question.objects.create(
                survey=survey, position=4, kind="rating_grid", text="Rate each part of the service"
            ),
        }
        self.grid_rows = [
            GridRow.objects.create(
                question=self.service_questions["grid"],
                position=index,
                label=dimension.name,
                dimension=dimension,
            )
            for index, dimension in enumerate(self.dimensions)
        ]
        survey.translations = {"zh-hans": {"title": SERVICE_SURVEY_ZH["title"]}}
        survey.save(update_fields=["translations"])
        for key, question in self.service_questions.items():
            question.translations = {"zh-hans": {"text": SERVICE_SURVEY_ZH[key]}}
            question.save(update_fields=["translations"])
        for row in self.grid_rows:
            if row.dimension is not None and row.dimension.code in DIMENSION_ZH:
                row.translations = {"zh-hans": {"label": DIMENSION_ZH[row.dimension.code]}}
                row.save(update_fields=["translations"])
        return survey

    def _moment(self, period: Quarter) -> datetime:
        end = min(period.end, self.now)
        at = period.start + timedelta(
            seconds=self.rng.uniform(0, (end - period.start).total_seconds())
        )
        return daytime(at, period.start, end)

    def _quarter(
        self, step: int, period: Quarter, nps_surveys: list[Survey], service: Survey
    ) -> None:
        rng = self.rng
        progress = step / (len(self.quarters) - 1)
        channels = [
            Channel.WEB,
            Channel.EMAIL,
            Channel.SMS,
            Channel.QR,
            Channel.PHONE,
            Channel.API,
            Channel.EMBED,
            Channel.IMPORT,
        ]
        # Rows are built here and written with bulk_create, parents first: the demo loads
        # in seconds, not a round trip per row.
        interactions: list[Interaction] = []
        complained: list[Interaction] = []
        invitations: list[Invitation] = []
        answered: list[tuple[Response, Survey]] = []
        for _index in range(rng.randint(330, 380)):
            agent = rng.choice(self.agents)
            customer = rng.choice(self.customers)
            touchpoint = rng.choice(self.touchpoints)
            occurred = self._moment(period)
            interaction = Interaction(
                customer=customer,
                touchpoint=touchpoint,
                agent=agent,
                team=agent.team,
                segment=customer.segment,
                occurred_at=occurred,
                quarter=quarter_label(occurred),
                description="Ticket closed",
            )
            interactions.append(interaction)
            if rng.random() < 0.065 - 0.023 * progress:
                complained.append(interaction)
            if rng.random() > 0.55:
                continue  # no survey answered for this interaction
            survey = rng.choice(nps_surveys) if rng.random() < 0.75 else service
            channel = rng.choice(channels)
            invitation = None
            if channel in (Channel.EMAIL, Channel.SMS):
                invitation = Invitation(
                    survey=survey,
                    customer=customer,
                    channel=channel,
                    status=Invitation.Status.DELIVERED,
                    interaction=interaction,
                    agent=agent,
                    team=agent.team,
                    touchpoint=touchpoint,
                    segment=customer.segment,
                    sent_at=occurred,
                    delivered_at=occurred + timedelta(minutes=1),
                    quarter=quarter_label(occurred),
                )
                invitations.append(invitation)
            submitted = min(occurred + timedelta(hours=rng.uniform(1, 48)), self.now)
            submitted = daytime(submitted, occurred, self.now)
            response = Response(
                survey=survey,
                channel=channel,
                customer=customer,
                segment=customer.segment,
                agent=agent if channel == Channel.PHONE or rng.random() < 0.6 else None,
                team=agent.team,
                touchpoint=survey.touchpoint,
                invitation=invitation,
                submitted_at=submitted,
                quarter=quarter_label(submitted),
            )
            answered.append((response, survey))
        for _index in range(rng.randint(40, 80)):
            # invitations that were delivered but never answered
            customer = rng.choice(self.customers)
            sent = self._moment(period)
            invitations.append(
                Invitation(
                    survey=rng.choice(nps_surveys),
                    customer=customer,
                    channel=rng.choice([Channel.EMAIL, Channel.SMS]),
                    status=Invitation.Status.DELIVERED,
                    segment=customer.segment,
                    sent_at=sent,
                    delivered_at=sent + timedelta(minutes=1),
                    quarter=quarter_label(sent),
                )
            )
        Interaction.objects.bulk_create(interactions)
        for invitation in invitations:
            invitation.interaction_id = (
                invitation.interaction.pk if invitation.interaction else None
            )
        Invitation.objects.bulk_create(invitations)
        for response, _survey in answered:
            response.invitation_id = response.invitation.pk if response.invitation else None
        Response.objects.bulk_create([response for response, _survey in answered])
        answers: list[Answer] = []
        purchases: list[Purchase] = []
        for response, survey in answered:
            score, rows = self._answers(response, survey, service, progress)
            answers.extend(rows)
            purchase = self._purchase(response, score)
            if purchase is not None:
                purchases.append(purchase)
            if score <= 6:
                self._follow_up(response, progress)
        Answer.objects.bulk_create(answers)
        Purchase.objects.bulk_create(purchases)
        for interaction in complained:
            self._complaint(interaction, progress)

    def _answers(
        self, response: Response, survey: Survey, service: Survey, progress: float
    ) -> tuple[int, list[Answer]]:
        rng = self.rng
        if survey != service:
            # NPS climbs from about 29 to about 57 over the two years (the brief: 42 -> 58).
            promoter, detractor = 0.44 + 0.20 * progress, 0.15 - 0.08 * progress
            roll = rng.random()
            if roll < promoter:
                score = rng.choice([9, 10])
            elif roll < promoter + detractor:
                score = rng.randint(0, 6)
            else:
                score = rng.choice([7, 8])
            questions = self._questions(survey)
            answers = [Answer(response=response, question=questions[0], number=score)]
            if rng.random() < 0.6:
                answers.append(
                    Answer(response=response, question=questions[1], text=rng.choice(REASONS))
                )
            return score, answers
        # Satisfaction climbs from about 75 toward 85 points (the brief).
        mean = 3.9 + 0.45 * progress
        stars = max(1, min(5, round(rng.gauss(mean, 0.9))))
        questions = self.service_questions
        answers = [
            Answer(response=response, question=questions["csat"], number=stars),
            Answer(
                response=response,
                question=questions["ces"],
                number=max(1, min(7, round(rng.gauss(5.0 + progress, 1.2)))),
            ),
            Answer(
                response=response,
                question=questions["fcr"],
                number=1 if rng.random() < 0.76 + 0.12 * progress else 0,
            ),
        ]
        for index, row in enumerate(self.grid_rows):
            bias = (0.3, 0.1, -0.4, 0.0, 0.2)[index]  # emotional value is the weakest
            answers.append(
                Answer(
                    response=response,
                    question=questions["grid"],
                    grid_row=row,
                    number=max(1, min(5, round(rng.gauss(mean + bias, 0.8)))),
                )
            )
        return 2 * stars, answers  # a 1-10 equivalent, for repurchase and follow-up

    def _questions(self, survey: Survey) -> list[Question]:
        if survey.pk not in self.questions_by_survey:
            self.questions_by_survey[survey.pk] = list(survey.questions.all())
        return self.questions_by_survey[survey.pk]

    def _purchase(self, response: Response, score: int) -> Purchase | None:
        chance = REPURCHASE.get(score, 0.72)
        if response.submitted_at and self.rng.random() < chance:
            bought = response.submitted_at + timedelta(days=self.rng.uniform(1, 85))
            if bought < self.now:
                return Purchase(customer=response.customer, purchased_at=bought)
        return None

    def _case(self, kind: str, opened: datetime, progress: float, **fields: Any) -> Case:
        rng = self.rng
        first = opened + timedelta(hours=rng.uniform(1, 40 - 25 * progress))
        resolved = first + timedelta(hours=rng.uniform(1, 60 - 30 * progress))
        if kind == Case.Kind.COMPLAINT and rng.random() > 0.72 + 0.22 * progress:
            resolved = self.now + timedelta(days=1)  # still unresolved
        case = Case.objects.create(
            kind=kind,
            opened_at=opened,
            quarter=quarter_label(opened),
            first_response_due_at=opened + timedelta(hours=24),
            resolution_due_at=opened + timedelta(hours=48),
            first_response_at=first if first < self.now else None,
            resolved_at=resolved if resolved < self.now else None,
            status=Case.Status.RESOLVED if resolved < self.now else Case.Status.OPEN,
            # picked from the opening time, not the random stream, so the figures stay put
            resolution=RESOLUTIONS[int(opened.timestamp()) % len(RESOLUTIONS)]
            if resolved < self.now
            else "",
            contact_count=1 if rng.random() < 0.7 + 0.2 * progress else 2,
            **fields,
        )
        if rng.random() < 0.41 + 0.3 * progress:
            self._action(case)
        return case

    def _follow_up(self, response: Response, progress: float) -> None:
        assert response.submitted_at is not None
        self._case(
            Case.Kind.FOLLOW_UP,
            response.submitted_at,
            progress,
            customer=response.customer,
            response=response,
            channel=response.channel,
            touchpoint_id=response.touchpoint_id,
            segment=response.segment,
            agent_id=response.agent_id,
            team_id=response.team_id,
            summary="Low score: call the customer back.",
        )

    def _complaint(self, interaction: Interaction, progress: float) -> None:
        weights = [share for _name, _cause, share in CATEGORIES]
        category = self.rng.choices(self.categories, weights=weights)[0]
        self._case(
            Case.Kind.COMPLAINT,
            interaction.occurred_at,
            progress,
            customer=interaction.customer,
            category=category,
            channel=self.rng.choice([Channel.PHONE, Channel.WEB, Channel.EMAIL]),
            interaction=interaction,
            touchpoint=interaction.touchpoint,
            segment=interaction.segment,
            agent=interaction.agent,
            team=interaction.team,
            summary=category.name,
        )

    def _action(self, case: Case) -> None:
        title = f"Fix: {case.category.name}" if case.category else "Call-back programme"
        action, _created = ImprovementAction.objects.get_or_create(
            title=title,
            defaults={
                "owner": self.manager,
                "lead_department": "Customer service",
                "supporting_departments": "After-sales, Logistics",
                "deadline": (case.opened_at + timedelta(days=60)).date(),
            },
        )
        action.cases.add(case)


def _translate_nps_survey(survey: Survey, touchpoint_zh: str) -> None:
    """The Chinese title and questions of one of the history's NPS surveys."""
    survey.translations = {
        "zh-hans": {"title": NPS_SURVEY_ZH["title"].format(touchpoint=touchpoint_zh)}
    }
    survey.save(update_fields=["translations"])
    nps, why = survey.questions.order_by("position")
    nps.translations = {"zh-hans": {"text": NPS_SURVEY_ZH["nps"]}}
    why.translations = {"zh-hans": {"text": NPS_SURVEY_ZH["why"]}}
    Question.objects.bulk_update([nps, why], ["translations"])
