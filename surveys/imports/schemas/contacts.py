"""Rows of customers (upserted by external id) and of purchases (facts: a purchase already
stored is skipped)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext as _

from csat.text import join_items
from surveys.imports.files import Cell
from surveys.imports.models import ImportJob
from surveys.imports.schemas.base import (
    RowProblems,
    RowSchema,
    Target,
    batched,
    keys_stored,
    parse_yes_no,
    text_of,
)
from surveys.models import Customer, Purchase, Segment
from surveys.outreach.customers import phone_normalise

# ---------------------------------------------------------------- customers


@dataclass(frozen=True)
class CustomerRow:
    row: int
    key: str
    values: dict[str, Any]


SEGMENT_SPELLINGS = {
    "high_value": Segment.HIGH_VALUE,
    "high-value": Segment.HIGH_VALUE,
    "high value": Segment.HIGH_VALUE,
    "高价值": Segment.HIGH_VALUE,
    "高价值客户": Segment.HIGH_VALUE,
    "normal": Segment.NORMAL,
    "普通": Segment.NORMAL,
    "普通客户": Segment.NORMAL,
    "churn_risk": Segment.CHURN_RISK,
    "churn-risk": Segment.CHURN_RISK,
    "churn risk": Segment.CHURN_RISK,
    "流失风险": Segment.CHURN_RISK,
    "流失风险客户": Segment.CHURN_RISK,
}
LANGUAGE_SPELLINGS = {
    "en": "en",
    "english": "en",
    "英文": "en",
    "zh-hans": "zh-hans",
    "zh_hans": "zh-hans",
    "zh": "zh-hans",
    "zh-cn": "zh-hans",
    "zh_cn": "zh-hans",
    "chinese": "zh-hans",
    "中文": "zh-hans",
    "简体中文": "zh-hans",
}


class CustomerSchema(RowSchema):
    kind = ImportJob.Kind.CUSTOMERS
    key_target = "external_id"

    def __init__(self, job: ImportJob) -> None:
        super().__init__(job)
        self.targets = [
            Target(
                "external_id",
                _("External id"),
                is_required=True,
                aliases=("id", "external id", "customer id", "customer_id", "客户编号"),
            ),
            Target("name", _("Name"), aliases=("name", "姓名", "客户名称")),
            Target("segment", _("Segment"), aliases=("segment", "客户分层", "分层")),
            Target("email", _("Email"), aliases=("email", "e-mail", "邮箱")),
            Target("phone", _("Phone"), aliases=("phone", "mobile", "手机", "电话")),
            Target("language", _("Language"), aliases=("language", "lang", "语言")),
            Target("consent", _("Consents to contact"), aliases=("consent", "同意联系")),
        ]
        self.languages = {code for code, _name in settings.LANGUAGES}

    def key_missing_message(self) -> str:
        return _("Give the customer's external id.")

    def parse_row(self, number: int, cells: Sequence[Cell]) -> CustomerRow:
        problems: list[tuple[str, str]] = []
        key = self.parse_key(number, cells, problems)
        values: dict[str, Any] = {}
        if "name" in self.mapping:
            name = text_of(self.cell(cells, "name"))
            if len(name) > 200:
                problems.append(("name", _("Keep it under %(max)s characters.") % {"max": 201}))
            values["name"] = name
        if "segment" in self.mapping:
            spelled = text_of(self.cell(cells, "segment"))
            segment = SEGMENT_SPELLINGS.get(spelled.lower()) if spelled else Segment.NORMAL
            if segment is None:
                problems.append(
                    ("segment", _("Choose one of: %(choices)s.")
                     % {"choices": join_items(Segment.values)})
                )  # fmt: skip
            values["segment"] = segment
        if "email" in self.mapping:
            email = text_of(self.cell(cells, "email"))
            if email:
                try:
                    validate_email(email)
                except ValidationError:
                    problems.append(("email", _("Give a valid email address.")))
            values["email"] = email
        if "phone" in self.mapping:
            phone = text_of(self.cell(cells, "phone"))
            if phone:
                # As the customer page and the API have it: the digits an SMS can be sent to.
                try:
                    phone = phone_normalise(phone)
                except ValueError as error:
                    problems.append(("phone", str(error)))
            values["phone"] = phone
        if "language" in self.mapping:
            spelled = text_of(self.cell(cells, "language"))
            language = LANGUAGE_SPELLINGS.get(spelled.lower()) if spelled else None
            if spelled and language not in self.languages:
                problems.append(
                    ("language", _("Choose one of: %(choices)s.")
                     % {"choices": join_items(sorted(self.languages))})
                )  # fmt: skip
            values["language"] = language or settings.LANGUAGE_CODE
        if "consent" in self.mapping:
            spelled = text_of(self.cell(cells, "consent"))
            try:
                values["consents_to_contact"] = parse_yes_no(spelled) if spelled else True
            except ValueError as error:
                problems.append(("consent", str(error)))
        if problems:
            raise RowProblems(problems)
        return CustomerRow(row=number, key=key, values=values)

    def existing_keys(self, keys: Sequence[str]) -> set[str]:
        return keys_stored(Customer, "external_id", keys)

    def changes(self, rows: Sequence[CustomerRow]) -> dict[str, list[str]]:
        """For each row of a known customer (by key), the mapped columns whose value differs
        from the stored one, which the import will write over it; [] when none does."""
        known: dict[str, Customer] = {}
        for batch in batched([row.key for row in rows]):
            known.update(
                (customer.external_id, customer)
                for customer in Customer.objects.filter(external_id__in=batch)
            )
        result = {}
        for row in rows:
            customer = known.get(row.key)
            if customer is not None:
                result[row.key] = [
                    str(self._label_of(name))
                    for name, value in row.values.items()
                    if getattr(customer, name) != value
                ]
        return result

    def _label_of(self, field: str) -> object:
        target = self.target("consent" if field == "consents_to_contact" else field)
        return target.label if target is not None else field


# ---------------------------------------------------------------- purchases


@dataclass(frozen=True)
class PurchaseRow:
    row: int
    key: str
    customer_id: int
    purchased_at: datetime
    amount: Decimal | None


AMOUNT_LIMIT = Decimal("9999999999.99")  # Purchase.amount: 12 digits, 2 after the point


class PurchaseSchema(RowSchema):
    kind = ImportJob.Kind.PURCHASES
    key_target = "external_id"

    def __init__(self, job: ImportJob) -> None:
        super().__init__(job)
        self.targets = [
            Target(
                "external_id",
                _("Purchase external id"),
                is_required=True,
                aliases=("id", "external id", "order id", "order", "订单号"),
            ),
            Target(
                "customer",
                _("Customer external id"),
                is_required=True,
                aliases=("customer", "customer id", "customer_id", "客户编号"),
            ),
            Target(
                "purchased_at",
                _("Purchased at"),
                is_required=True,
                aliases=("purchased at", "purchased_at", "date", "time", "购买时间"),
            ),
            Target("amount", _("Amount"), aliases=("amount", "金额")),
        ]
        self.customers: dict[str, Any] = {}

    def key_missing_message(self) -> str:
        return _("Give the purchase's external id.")

    def prepare(self, rows: Sequence[tuple[int, list[Cell]]]) -> None:
        self.customers = self._customers(rows, "customer")

    def parse_row(self, number: int, cells: Sequence[Cell]) -> PurchaseRow:
        problems: list[tuple[str, str]] = []
        key = self.parse_key(number, cells, problems)
        external_id = text_of(self.cell(cells, "customer"))
        customer = self.customers.get(external_id)
        if not external_id:
            problems.append(("customer", _("Give the customer's external id.")))
        elif customer is None:
            problems.append(
                ("customer", _("No customer has the external id %(value)s.")
                 % {"value": external_id})
            )  # fmt: skip
        purchased_at = self._moment(cells, "purchased_at", problems)
        amount = None
        if "amount" in self.mapping:
            text = text_of(self.cell(cells, "amount")).replace(",", "")
            if text:
                try:
                    amount = Decimal(text)
                except InvalidOperation:
                    amount = None
                if (
                    amount is None
                    or not amount.is_finite()
                    or amount < 0
                    or amount > AMOUNT_LIMIT
                    or amount != amount.quantize(Decimal("0.01"))
                ):
                    problems.append(
                        ("amount", _("Give an amount such as 129.90 (at most two decimals)."))
                    )
                    amount = None
        if problems or purchased_at is None or customer is None:
            raise RowProblems(problems)
        return PurchaseRow(
            row=number, key=key, customer_id=customer[0], purchased_at=purchased_at, amount=amount
        )

    def existing_keys(self, keys: Sequence[str]) -> set[str]:
        return keys_stored(Purchase, "external_id", keys)
