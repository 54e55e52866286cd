# ruff: noqa: RUF001
"""Translation catalogues: complete, compiled, and served to browsers in their language.

Re-create the catalogues after changing translatable strings (see locale/):

    .venv/bin/python manage.py makemessages -l zh_Hans -l en --ignore=.venv \
        --ignore=staticfiles --ignore=var --ignore=tests --ignore=bench --no-obsolete
    .venv/bin/python manage.py compilemessages --ignore=.venv
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

LOCALE_DIR = Path(settings.BASE_DIR) / "locale"
ZH_HANS_PO = LOCALE_DIR / "zh_Hans" / "LC_MESSAGES" / "django.po"
CATALOGUES = ["en", "zh_Hans"]


@dataclass
class Entry:
    flags: set[str] = field(default_factory=set)
    fields: dict[str, str] = field(default_factory=dict)

    @property
    def msgid(self) -> str:
        return self.fields.get("msgid", "")

    @property
    def msgstrs(self) -> dict[str, str]:
        return {key: value for key, value in self.fields.items() if key.startswith("msgstr")}


def read_po(path: Path) -> list[Entry]:
    """The entries of a .po file, header included; obsolete (#~) entries are left out."""
    entries: list[Entry] = []
    entry, key = Entry(), ""
    for line in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        line = line.strip()
        if not line:
            if entry.fields:
                entries.append(entry)
            entry, key = Entry(), ""
        elif line.startswith("#,"):
            entry.flags.update(flag.strip() for flag in line[2:].split(","))
        elif line.startswith("#"):
            continue
        elif line.startswith('"'):
            entry.fields[key] += ast.literal_eval(line)
        else:
            key, _, value = line.partition(" ")
            entry.fields[key] = ast.literal_eval(value)
    return entries


@pytest.fixture
def msgfmt() -> str:
    path = shutil.which("msgfmt")
    assert path, "GNU gettext's msgfmt must be installed to check the catalogues"
    return path


def test_every_simplified_chinese_entry_is_translated_and_none_is_fuzzy() -> None:
    entries = read_po(ZH_HANS_PO)
    messages = [entry for entry in entries if entry.msgid]

    assert messages, "the zh_Hans catalogue has no messages; run makemessages"
    assert [e.msgid for e in entries if "fuzzy" in e.flags] == []
    assert [e.msgid for e in messages if not all(e.msgstrs.values())] == []


def test_simplified_chinese_catalogue_declares_one_plural_form_and_uses_only_that() -> None:
    header, *messages = read_po(ZH_HANS_PO)

    assert header.msgid == ""
    assert "Language: zh_Hans\n" in header.fields["msgstr"]
    assert "charset=UTF-8" in header.fields["msgstr"]
    assert "Plural-Forms: nplurals=1; plural=0;\n" in header.fields["msgstr"]
    plurals = [entry for entry in messages if "msgid_plural" in entry.fields]
    assert [e.msgid for e in plurals if set(e.msgstrs) != {"msgstr[0]"}] == []


@pytest.mark.parametrize("language", CATALOGUES)
def test_catalogue_passes_msgfmt_checks_with_no_untranslated_or_fuzzy_chinese(
    msgfmt: str, language: str
) -> None:
    po = LOCALE_DIR / language / "LC_MESSAGES" / "django.po"

    result = subprocess.run(
        [msgfmt, "--check", "--statistics", "-o", "/dev/null", str(po)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "LC_ALL": "C"},
    )

    assert result.returncode == 0, result.stderr
    if language == "zh_Hans":
        assert "untranslated" not in result.stderr, result.stderr
        assert "fuzzy" not in result.stderr, result.stderr


@pytest.mark.parametrize("language", CATALOGUES)
def test_committed_mo_file_is_the_compiled_po_file(
    msgfmt: str, language: str, tmp_path: Path
) -> None:
    po = LOCALE_DIR / language / "LC_MESSAGES" / "django.po"
    mo = po.with_suffix(".mo")
    compiled = tmp_path / "django.mo"

    subprocess.run([msgfmt, "--check-format", "-o", str(compiled), str(po)], check=True)

    assert mo.exists(), f"{mo} is missing; run compilemessages"
    assert compiled.read_bytes() == mo.read_bytes(), f"{mo} is stale; run compilemessages"


@pytest.mark.parametrize("accept_language", ["zh-CN,zh;q=0.9", "zh-hans"])
def test_login_page_is_in_simplified_chinese_for_a_chinese_browser(
    client: Client, db: None, accept_language: str
) -> None:
    response = client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE=accept_language)

    assert response.status_code == 200
    assert response["Content-Language"] == "zh-hans"
    page = response.content.decode()
    assert "登录 csat" in page
    assert "Log in to csat" not in page


def test_login_page_is_in_english_for_an_english_browser(client: Client, db: None) -> None:
    response = client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 200
    assert response["Content-Language"] == "en"
    assert "Log in to csat" in response.content.decode()


def test_lists_are_joined_the_way_each_language_writes_them() -> None:
    from django.utils import translation

    from csat.text import join_clauses, join_items

    with translation.override("zh-hans"):
        assert join_items(["高价值", "普通", "流失风险"]) == "高价值、普通、流失风险"
        assert join_clauses(["第 2 行有误。", "第 3 行有误。"]) == "第 2 行有误；第 3 行有误。"
    with translation.override("en"):
        assert join_items(["Yes, fully", "No"]) == "Yes, fully; No"
        assert join_clauses(["Row 2 is wrong.", "Row 3 is wrong."]) == (
            "Row 2 is wrong.; Row 3 is wrong."
        )
