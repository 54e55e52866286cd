"""Staff forms. They parse what the page posts; the builder services decide what is valid and
name the field of each problem, which the views put back on these forms."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from surveys.builder import LANGUAGE_CODES, OptionSpec, QuestionSpec, SurveySettings, field_name
from surveys.models import Question, Survey, Touchpoint
from surveys.respond import survey_title_for
from surveys.templates_library import TEMPLATES

LANGUAGE_NAMES = dict(settings.LANGUAGES)
SCALE_CHOICES = [("", _("Default")), ("1-5", "1-5"), ("1-7", "1-7"), ("1-10", "1-10")]


def _per_language(
    form: forms.Form, name: str, label: Any, *, textarea: bool = False, max_length: int = 5000
) -> None:
    for code in LANGUAGE_CODES:
        widget = forms.Textarea(attrs={"rows": 3}) if textarea else forms.TextInput()
        form.fields[field_name(name, code)] = forms.CharField(
            # Translators: a field label and the language its text is written in.
            label=_("%(label)s (%(language)s)")
            % {"label": label, "language": LANGUAGE_NAMES[code]},
            required=False,
            max_length=max_length,
            widget=widget,
        )


def _texts(data: dict[str, Any], name: str) -> dict[str, str]:
    return {code: data.get(field_name(name, code)) or "" for code in LANGUAGE_CODES}


def _lines(value: str | None) -> list[str]:
    return [line.strip() for line in (value or "").splitlines()]


class SurveyNewForm(forms.Form):
    """Start a survey from a template, or blank with a title."""

    template = forms.ChoiceField(label=_("Start from"), required=False, widget=forms.RadioSelect)
    default_language = forms.ChoiceField(
        label=_("Default language"), choices=settings.LANGUAGES, initial=settings.LANGUAGE_CODE
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["template"].choices = [
            ("", _("A blank survey")),
            *((key, template.name) for key, template in TEMPLATES.items()),
        ]
        _per_language(self, "title", _("Title (blank survey)"), max_length=200)


class SurveySettingsForm(forms.Form):
    default_language = forms.ChoiceField(label=_("Default language"), choices=settings.LANGUAGES)
    touchpoint = forms.ModelChoiceField(
        label=_("Touchpoint"), queryset=Touchpoint.objects.all(), required=False
    )
    is_anonymous = forms.BooleanField(
        label=_("Anonymous: never link responses to a customer"), required=False
    )
    stores_client_details = forms.BooleanField(
        label=_("Store the respondent's IP address and browser"), required=False
    )
    retention_days = forms.IntegerField(
        label=_("Delete responses after (days)"),
        required=False,
        help_text=_("Empty keeps them. A nightly task deletes older responses and their answers."),
    )
    brand_color = forms.CharField(
        label=_("Brand colour"),
        required=False,
        max_length=7,
        help_text=_("For example #1f5fbf. It must leave text readable."),
    )
    logo = forms.FileField(label=_("Logo (PNG, JPEG, WebP or GIF)"), required=False)
    remove_logo = forms.BooleanField(label=_("Remove the logo"), required=False)
    embed_origins = forms.CharField(
        label=_("Sites that may embed the survey"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("One https origin per line, e.g. https://shop.example.com."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _per_language(self, "title", _("Title"), max_length=200)
        _per_language(self, "introduction", _("Introduction"), textarea=True)
        _per_language(self, "thank_you_message", _("Thank-you message"), textarea=True)
        languages = [code.replace("-", "_") for code in LANGUAGE_CODES]
        self.order_fields(
            [
                "default_language",
                *(
                    f"{name}_{code}"
                    for name in ("title", "introduction", "thank_you_message")
                    for code in languages
                ),
            ]
        )

    def clean_logo(self) -> Any:
        # Refused before it is read into memory; the builder checks the image itself.
        logo = self.cleaned_data.get("logo")
        limit = settings.SURVEY_LOGO_MAX_BYTES
        if logo and logo.size > limit:
            raise forms.ValidationError(
                _("The logo is too large: %(size)s KB, at most %(max)s KB.")
                % {"size": logo.size // 1000, "max": limit // 1000}
            )
        return logo

    @classmethod
    def initial_for(cls, survey: Survey) -> dict[str, Any]:
        from surveys.builder import texts_of

        initial: dict[str, Any] = {
            "default_language": survey.default_language,
            "touchpoint": survey.touchpoint,
            "is_anonymous": survey.is_anonymous,
            "stores_client_details": survey.stores_client_details,
            "retention_days": survey.retention_days,
            "brand_color": survey.brand_color,
            "embed_origins": "\n".join(survey.embed_origins or []),
        }
        for name in ("title", "introduction", "thank_you_message"):
            for code, value in texts_of(survey, name, survey.default_language).items():
                initial[field_name(name, code)] = value
        return initial

    def to_settings(self) -> SurveySettings:
        data = self.cleaned_data
        logo = data.get("logo")
        return SurveySettings(
            title=_texts(data, "title"),
            introduction=_texts(data, "introduction"),
            thank_you_message=_texts(data, "thank_you_message"),
            default_language=data["default_language"],
            touchpoint=data.get("touchpoint"),
            is_anonymous=bool(data.get("is_anonymous")),
            stores_client_details=bool(data.get("stores_client_details")),
            retention_days=data.get("retention_days"),
            brand_color=data.get("brand_color") or "",
            embed_origins=_lines(data.get("embed_origins")),
            logo=logo.read() if logo else None,
            remove_logo=bool(data.get("remove_logo")),
        )


class QuestionForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=Question.Kind.choices)
    is_required = forms.BooleanField(label=_("Required"), required=False)
    scale = forms.ChoiceField(label=_("Scale"), choices=SCALE_CHOICES, required=False)
    # "Role" alone is a user's role elsewhere; here it is what the question measures.
    role = forms.ChoiceField(
        label=pgettext_lazy("question", "Role"), choices=Question.Role.choices, required=False
    )
    dimension = forms.CharField(
        label=_("Dimension"),
        required=False,
        max_length=120,
        help_text=_("E.g. Response speed. A new name creates the dimension."),
    )
    show_if_question = forms.TypedChoiceField(
        label=_("Show only after the answer to"),
        required=False,
        coerce=int,
        empty_value=None,
    )
    show_if_min = forms.IntegerField(label=_("when the score is at least"), required=False)
    show_if_max = forms.IntegerField(label=_("and at most"), required=False)
    row_dimensions = forms.CharField(
        label=_("Row dimensions, one per line (matching the rows)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
    )

    def __init__(self, *args: Any, triggers: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _per_language(self, "text", _("Question"), max_length=500)
        _per_language(self, "help_text", _("Help text"), max_length=500)
        _per_language(self, "choices", _("Choices, one per line"), textarea=True, max_length=20000)
        _per_language(
            self, "rows", _("Rows to rate, one per line"), textarea=True, max_length=20000
        )
        self.fields["show_if_question"].choices = [("", _("(always shown)")), *triggers]
        languages = [code.replace("-", "_") for code in LANGUAGE_CODES]
        self.order_fields(
            [
                "kind",
                *(f"text_{code}" for code in languages),
                *(f"help_text_{code}" for code in languages),
                "is_required",
                "scale",
                "role",
                "dimension",
                *(f"choices_{code}" for code in languages),
                *(f"rows_{code}" for code in languages),
                "row_dimensions",
            ]
        )

    @classmethod
    def initial_for(cls, question: Question) -> dict[str, Any]:
        from surveys.builder import texts_of

        default = question.survey.default_language
        scale = question.scale
        initial: dict[str, Any] = {
            "kind": question.kind,
            "is_required": question.is_required,
            "scale": f"{scale[0]}-{scale[1]}"
            if scale and question.kind in ("csat", "rating_grid")
            else "",
            "role": question.role,
            "dimension": question.dimension.name if question.dimension else "",
            "show_if_question": question.show_if_question_id,
            "show_if_min": question.show_if_min,
            "show_if_max": question.show_if_max,
        }
        for name in ("text", "help_text"):
            for code, value in texts_of(question, name, default).items():
                initial[field_name(name, code)] = value
        items = list(question.rows.select_related("dimension")) or list(question.choices.all())
        option_name = "rows" if question.kind == Question.Kind.RATING_GRID else "choices"
        for code in LANGUAGE_CODES:
            initial[field_name(option_name, code)] = "\n".join(
                texts_of(item, "label", default)[code] for item in items
            )
        if question.kind == Question.Kind.RATING_GRID:
            initial["row_dimensions"] = "\n".join(
                row.dimension.name if row.dimension else "" for row in question.rows.all()
            )
        return initial

    def to_spec(self) -> QuestionSpec:
        data = self.cleaned_data
        kind = data["kind"]
        scale = None
        if data.get("scale"):
            low, high = data["scale"].split("-")
            scale = (int(low), int(high))
        option_name = "rows" if kind == Question.Kind.RATING_GRID else "choices"
        per_language = {
            code: _lines(data.get(field_name(option_name, code))) for code in LANGUAGE_CODES
        }
        dimensions = _lines(data.get("row_dimensions"))
        count = max((len(lines) for lines in per_language.values()), default=0)
        options = [
            OptionSpec(
                label={
                    code: lines[index] if index < len(lines) else ""
                    for code, lines in per_language.items()
                },
                dimension=dimensions[index] if index < len(dimensions) else "",
            )
            for index in range(count)
        ]
        return QuestionSpec(
            kind=kind,
            text=_texts(data, "text"),
            help_text=_texts(data, "help_text"),
            is_required=bool(data.get("is_required")),
            scale=scale,
            role=data.get("role") or "",
            dimension=data.get("dimension") or "",
            show_if_question=data.get("show_if_question"),
            show_if_min=data.get("show_if_min"),
            show_if_max=data.get("show_if_max"),
            options=options if kind in ("single_choice", "multiple_choice", "rating_grid") else [],
        )


class QrForm(forms.Form):
    touchpoint = forms.ModelChoiceField(
        label=_("Touchpoint"), queryset=Touchpoint.objects.all(), required=False
    )
    location = forms.CharField(
        label=_("Location label"),
        required=False,
        max_length=120,
        help_text=_("Printed under the code and kept on each response, e.g. Store 12, counter."),
    )


class SurveyChoiceField(forms.ModelChoiceField):
    """Surveys listed by their title in the staff member's language."""

    def label_from_instance(self, obj: Any) -> str:
        return survey_title_for(obj)


class PhoneStartForm(forms.Form):
    survey = SurveyChoiceField(
        label=_("Survey"), queryset=Survey.objects.filter(status=Survey.Status.OPEN)
    )
    customer = forms.CharField(label=_("Customer external id"), max_length=120)
