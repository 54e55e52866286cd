"""Load demo data: three log-ins, teams, touchpoints, dimensions and two years of NPS answers."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from accounts.models import Role, Team, User
from accounts.services import user_create
from metrics.periods import Quarter, quarter_label
from metrics.services import metrics_rebuild
from surveys.models import Answer, Channel, Customer, Dimension, Response, Segment, Touchpoint
from surveys.services import survey_create_nps

DEMO_PASSWORD = "csat-demo"
DEMO_USERS = [("staff", Role.STAFF), ("manager", Role.MANAGER), ("admin", Role.ADMIN)]
TOUCHPOINTS = [
    ("first-consultation", "First consultation"),
    ("product-delivery", "Product delivery"),
    ("after-sales-support", "After-sales support"),
]
DIMENSIONS = [
    ("response-speed", "Response speed"),
    ("technical-ability", "Technical ability"),
    ("emotional-value", "Emotional value"),
    ("process-experience", "Process experience"),
    ("outcome", "Outcome satisfaction"),
]
REASONS = [
    "Quick and friendly answer.",
    "After-sales response was slow.",
    "The engineer fixed it on the first visit.",
    "Not personal enough.",
    "Delivery arrived a day late.",
    "Great follow-up call.",
]


class Command(BaseCommand):
    help = "Load demo data (idempotent: does nothing when the demo users exist)."

    def handle(self, *args: Any, **options: Any) -> None:
        if User.objects.filter(username="manager").exists():
            self.stdout.write("Demo data already loaded.")
            return
        with transaction.atomic():
            self._load()
        metrics_rebuild()
        self.stdout.write("Demo data loaded; metrics computed.")

    def _load(self) -> None:
        rng = random.Random(2025)
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
        agents = [users["staff"]] + [
            user_create(username=f"agent{i}", password=DEMO_PASSWORD, role=Role.STAFF, team=team)
            for i, team in enumerate([support, after_sales, after_sales], start=1)
        ]
        touchpoints = [
            Touchpoint.objects.create(code=code, name=name, position=index)
            for index, (code, name) in enumerate(TOUCHPOINTS)
        ]
        Dimension.objects.bulk_create(Dimension(code=code, name=name) for code, name in DIMENSIONS)
        segments = [Segment.HIGH_VALUE] * 2 + [Segment.NORMAL] * 6 + [Segment.CHURN_RISK] * 2
        customers = Customer.objects.bulk_create(
            Customer(
                external_id=f"C{index:05d}",
                name=f"Customer {index}",
                email=f"customer{index}@example.com",
                segment=rng.choice(segments),
                language=rng.choice(["zh-hans", "en"]),
            )
            for index in range(1, 301)
        )
        surveys = [
            survey_create_nps(
                title=f"{touchpoint.name}: how likely are you to recommend us?",
                nps_question="How likely are you to recommend us to a friend or colleague?",
                why_question="What is the main reason for your score?",
                touchpoint=touchpoint,
                created_by=users["staff"],
            )
            for touchpoint in touchpoints
        ]
        self._responses(rng, surveys, customers, agents)

    def _responses(
        self, rng: random.Random, surveys: list[Any], customers: list[Customer], agents: list[User]
    ) -> None:
        now = timezone.now()
        quarter = Quarter.current()
        quarters = [quarter]
        for _index in range(7):
            quarters.insert(0, quarters[0].previous())
        channels = [Channel.WEB, Channel.EMAIL, Channel.SMS, Channel.QR, Channel.PHONE, Channel.API]
        for step, period in enumerate(quarters):
            # NPS climbs from about the baseline (42) toward the target (58) over two years.
            promoter_share = 0.55 + 0.012 * step
            detractor_share = 0.14 - 0.006 * step
            end = min(period.end, now)
            span = (end - period.start).total_seconds()
            for _index in range(rng.randint(150, 220)):
                survey = rng.choice(surveys)
                roll = rng.random()
                if roll < promoter_share:
                    score = rng.choice([9, 10])
                elif roll < promoter_share + detractor_share:
                    score = rng.randint(0, 6)
                else:
                    score = rng.choice([7, 8])
                channel = rng.choice(channels)
                agent = rng.choice(agents) if channel == Channel.PHONE else None
                customer = rng.choice(customers)
                submitted_at = period.start + timedelta(seconds=rng.uniform(0, span))
                response = Response.objects.create(
                    survey=survey,
                    channel=channel,
                    customer=customer,
                    segment=customer.segment,
                    agent=agent,
                    team=agent.team if agent else None,
                    touchpoint=survey.touchpoint,
                    submitted_at=submitted_at,
                    quarter=quarter_label(submitted_at),
                )
                questions = list(survey.questions.all())
                answers = [Answer(response=response, question=questions[0], number=score)]
                if rng.random() < 0.6:
                    answers.append(
                        Answer(response=response, question=questions[1], text=rng.choice(REASONS))
                    )
                Answer.objects.bulk_create(answers)
