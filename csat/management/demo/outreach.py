"""Invitations as the product sends them: a touchpoint rule that invites after-sales customers
by SMS two hours after their ticket closes (tickets from the CRM, recorded by the service the
interactions API calls), an SMS send with a reminder, and an email send to high-value customers with
every outcome a send page can show (delivered and answered, saved for later, failed with the
mail server's error, suppressed: unsubscribed, no consent, the fatigue rule).

Everything goes through the outreach services with the moment it happened (`now=`), so the
fatigue rule, expiry and reminders work on the demo's own clock."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from django.contrib.auth.models import Permission
from django.utils import timezone
from rest_framework.authtoken.models import Token

from accounts.models import User
from csat.management.demo.answers import Respondents, daytime
from surveys.models import (
    Channel,
    Customer,
    Invitation,
    InvitationChannel,
    Segment,
    Survey,
    SurveySend,
    Touchpoint,
    TouchpointRule,
)
from surveys.outreach.customers import customer_save, customer_unsubscribe
from surveys.outreach.delivery import invitation_remind, invitation_send
from surveys.outreach.interactions import interaction_record
from surveys.outreach.invitations import send_create

API_USERNAME = "crm"
# What the CRM does through the API: read the surveys, send answers, interactions, customers
# and purchases.
API_PERMISSIONS = [
    "surveys.view_survey",
    "surveys.add_response",
    "surveys.add_interaction",
    "surveys.view_customer",
    "surveys.add_customer",
    "surveys.change_customer",
    "surveys.add_purchase",
]
BOUNCING_EMAIL = "zhang.wei@old-mail.example.com"


class Outreach:
    """The CRM's API account, the after-sales rule and its invitations, the two sends."""

    def __init__(
        self,
        rng: random.Random,
        now: datetime,
        respondents: Respondents,
        customers: list[Customer],
    ) -> None:
        self.rng = rng
        self.now = now
        self.respondents = respondents
        # Each part of the story invites customers of its own, so the fatigue rule suppresses
        # exactly the one invitation it is meant to.
        # C00001-C00100 are left alone: the import samples and the README's API example use them.
        pool = [c for c in customers if int(c.external_id[1:]) > 100]
        self.rng.shuffle(pool)
        self.high_value = [c for c in pool if c.segment == Segment.HIGH_VALUE]
        self.others = [c for c in pool if c.segment != Segment.HIGH_VALUE]

    def api_user(self) -> tuple[User, str]:
        """The CRM's API account: the permissions its calls need and no more (no role, no
        team: it serves no customer), no password (it signs in with its token only)."""
        user = User.objects.create_user(
            username=API_USERNAME, password=None, first_name="CRM", last_name="API"
        )
        for dotted in API_PERMISSIONS:
            app_label, codename = dotted.split(".")
            user.user_permissions.add(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )
        token = Token.objects.create(user=user)
        return user, token.key

    def _at(self, days_ago: float) -> datetime:
        return self.now - timedelta(days=days_ago)

    def _morning(self, days_ago: int) -> datetime:
        """10:00 local time, `days_ago` days ago (when staff send their surveys)."""
        day = timezone.localtime(self.now - timedelta(days=days_ago))
        return day.replace(hour=10, minute=0, second=0, microsecond=0)

    def _deliver(self, invitation: Invitation, at: datetime) -> Invitation:
        """Send one due invitation at `at`, as the dispatcher's task would."""
        invitation_send(invitation.pk, now=at)
        invitation.refresh_from_db()
        return invitation

    def _reply(self, invitation: Invitation, after: datetime, *, within_days: float) -> None:
        latest = min(after + timedelta(days=within_days), self.now)
        at = daytime(after + (latest - after) * self.rng.uniform(0.05, 1), after, latest)
        self.respondents.answer(
            invitation.survey,
            at,
            language=invitation.customer.language,
            invitation=invitation,
        )

    def touchpoint_rule(self, survey: Survey, agents: list[User]) -> TouchpointRule:
        """After-sales tickets closed in the CRM: the rule invites each customer by SMS two
        hours later; the last ticket closed half an hour ago, so its invitation is still due
        (beat sends it once `make run` is up)."""
        touchpoint = Touchpoint.objects.get(code="after-sales-support")
        # Configuration an admin makes on the admin site (no service: a model form).
        rule = TouchpointRule.objects.create(
            touchpoint=touchpoint,
            survey=survey,
            channel=InvitationChannel.SMS,
            delay=timedelta(hours=2),
            reminder_after_days=3,
        )
        moments = sorted(
            daytime(self._at(self.rng.uniform(0.2, 8)), self._at(8), self._at(0.2))
            for _index in range(11)
        )
        moments.append(self._at(1 / 48))
        for number, occurred in enumerate(moments, start=10231):
            agent = self.rng.choice(agents)
            interaction, _created = interaction_record(
                customer=self.others.pop(),
                touchpoint=touchpoint,
                agent=agent,
                occurred_at=occurred,
                description="After-sales ticket closed",
                external_id=f"CRM-TICKET-{number}",
                now=occurred,
            )
            invitation = interaction.invitations.get()
            if invitation.due_at is None or invitation.due_at > self.now:
                continue
            invitation = self._deliver(invitation, invitation.due_at)
            assert invitation.sent_at is not None
            if self.rng.random() < 0.6:
                self._reply(invitation, invitation.sent_at, within_days=2)
            elif invitation.remind_at is not None and invitation.remind_at <= self.now:
                invitation_remind(invitation.pk, now=invitation.remind_at)
        return rule

    def sms_send(self, survey: Survey, author: User, fatigued: Customer) -> SurveySend:
        """Nine days ago: an SMS send with a reminder after three days."""
        sent_at = self._morning(9)
        customers = [self.others.pop() for _index in range(15)] + [fatigued]
        send = send_create(
            survey=survey,
            channel=InvitationChannel.SMS,
            customers=customers,
            reminder_after_days=3,
            created_by=author,
            now=sent_at,
        )
        late: list[Invitation] = []
        for index, invitation in enumerate(send.invitations.order_by("pk")):
            invitation = self._deliver(invitation, sent_at + timedelta(seconds=5 * index))
            assert invitation.sent_at is not None
            if self.rng.random() < 0.45:
                self._reply(invitation, invitation.sent_at, within_days=2.5)
            else:
                late.append(invitation)
        for invitation in late:
            assert invitation.remind_at is not None
            invitation_remind(invitation.pk, now=invitation.remind_at)
            if self.rng.random() < 0.35:
                self._reply(invitation, invitation.remind_at, within_days=1)
        return send

    def special_customers(self) -> tuple[Customer, Customer, Customer]:
        """High-value customers the email send cannot reach: one unsubscribed (from an
        earlier invitation's link), one without consent, one whose mailbox no longer exists."""
        unsubscribed, no_consent, bouncing = (self.high_value.pop() for _index in range(3))
        customer_unsubscribe(customer=unsubscribed, now=self._at(40))
        no_consent, _created = customer_save(
            external_id=no_consent.external_id, consents_to_contact=False
        )
        bouncing, _created = customer_save(
            external_id=bouncing.external_id,
            name="张伟",
            email=BOUNCING_EMAIL,
            language="zh-hans",
        )
        return unsubscribed, no_consent, bouncing

    def email_send(self, survey: Survey, author: User, fatigued: Customer) -> SurveySend:
        """Four days ago: the relationship survey to high-value customers, reminder after five
        days (still to come), one customer saving their answers to finish later."""
        sent_at = self._morning(4)
        special = self.special_customers()
        customers = [self.high_value.pop() for _index in range(26)]
        send = send_create(
            survey=survey,
            channel=InvitationChannel.EMAIL,
            customers=[*customers, *special, fatigued],
            reminder_after_days=5,
            created_by=author,
            now=sent_at,
        )
        scheduled = send.invitations.filter(status=Invitation.Status.SCHEDULED).order_by("pk")
        partial_done = False
        for index, invitation in enumerate(scheduled):
            invitation = self._deliver(invitation, sent_at + timedelta(seconds=3 * index))
            if invitation.status != Invitation.Status.DELIVERED:
                continue  # the mail server refused it: the send page shows its error
            assert invitation.sent_at is not None
            roll = self.rng.random()
            if roll < 0.62:
                self._reply(invitation, invitation.sent_at, within_days=3)
            elif not partial_done:
                # Saved after the first question, not submitted: it does not count yet.
                self.respondents.answer(
                    survey,
                    self.now,
                    language=invitation.customer.language,
                    invitation=invitation,
                    is_partial=True,
                )
                partial_done = True
        return send

    def api_answers(self, survey: Survey, api_user: User) -> None:
        """Answers the CRM collected in its own app and sent to the response API (channel
        api), each with its Idempotency-Key as the API scopes it."""
        for number in range(1, 11):
            customer = self.others.pop()
            self.respondents.answer(
                survey,
                daytime(self._at(self.rng.uniform(0, 10)), self._at(10), self.now),
                language=customer.language,
                channel=Channel.API,
                customer=customer,
                submission_key=f"api:{api_user.pk}:crm-survey-{number}",
            )
