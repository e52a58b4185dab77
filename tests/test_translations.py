"""The English catalogue is complete, matches the source, compiles, and leaves no Chinese on the pages.

Chinese is the source language of every msgid (LANGUAGE_CODE zh-hans), so an English page that still
shows a Han character means a string was never wrapped, never extracted, or never translated. The
personas and cases here have Latin names and texts so that everything Chinese on a page is ours.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.urls import reverse
from django.utils import translation

from mediation import services
from mediation.models import Case, CaseState, Organisation, Role, User
from tests import factories

ROOT = Path(__file__).resolve().parent.parent
PO_PATH = Path("locale") / "en" / "LC_MESSAGES" / "django.po"
MAKEMESSAGES = ["makemessages", "-l", "en", "-i", ".venv", "-i", "var", "-i", "bench", "-i", "tests", "--no-location"]
# Copying these would be slow (.venv) or would put strings in the catalogue that it must not hold.
NOT_SOURCE = {".venv", "var", "bench", "tests", ".git", ".mypy_cache", ".ruff_cache", ".pytest_cache", "node_modules"}

HAN = re.compile(r"[\u4e00-\u9fff]")
# Full-width punctuation left outside a msgid ("：", "（", "「") is as foreign on an English page as Han.
CJK_PUNCTUATION = re.compile(r"[\u3000-\u303f\uff01-\uff60]")
# The language switch names Chinese in Chinese on purpose, so that a Chinese reader can find it.
LANGUAGE_SWITCH = re.compile(r'<button[^>]*\blang="zh-hans"[^>]*>[^<]*</button>')


# --- reading the .po file (polib is not a dependency) -----------------------------------------


@dataclass
class PoEntry:
    msgid: str = ""
    msgid_plural: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)
    obsolete: bool = False


_ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\", "r": "\r"}
_KEYWORD = re.compile(r'^(msgctxt|msgid_plural|msgid|msgstr(?:\[(\d+)\])?)\s+(".*")$')


def _unquote(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: _ESCAPES[m.group(1)], text.strip()[1:-1])


def read_po(path: Path) -> list[PoEntry]:
    """Every entry except the header, in file order."""
    entries: list[PoEntry] = []
    entry = PoEntry()
    seen_msgid = False
    target: tuple[str, int] = ("msgid", 0)

    def finish() -> None:
        nonlocal entry, seen_msgid
        if seen_msgid and entry.msgid:
            entries.append(entry)
        entry, seen_msgid = PoEntry(), False

    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#~"):
            entry.obsolete = True
            line = line[2:].strip()
        if not line.strip():
            finish()
        elif line.startswith("#,"):
            entry.flags |= {flag.strip() for flag in line[2:].split(",")}
        elif line.startswith("#"):
            continue
        elif line.startswith('"'):
            value = _unquote(line)
            if target[0] == "msgid":
                entry.msgid += value
            elif target[0] == "msgid_plural":
                entry.msgid_plural = (entry.msgid_plural or "") + value
            elif target[0] == "msgstr":
                entry.msgstr[target[1]] += value
        else:
            match = _KEYWORD.match(line)
            assert match, f"{path}: cannot read line {line!r}"
            keyword, index, value = match.group(1), match.group(2), _unquote(match.group(3))
            if keyword == "msgid":
                entry.msgid, seen_msgid, target = value, True, ("msgid", 0)
            elif keyword == "msgid_plural":
                entry.msgid_plural, target = value, ("msgid_plural", 0)
            elif keyword.startswith("msgstr"):
                target = ("msgstr", int(index or 0))
                entry.msgstr[target[1]] = value
            else:
                target = ("msgctxt", 0)
    finish()
    return entries


def read_header(path: Path) -> str:
    text = path.read_text(encoding="utf-8")
    header = text.split("\n\n", 1)[0]
    return "".join(_unquote(line) for line in header.splitlines() if line.startswith('"'))


def untranslated(entries: list[PoEntry]) -> list[str]:
    """msgids with an empty translation; English needs both a singular and a plural form."""
    return [
        e.msgid
        for e in entries
        if not e.obsolete and not all(e.msgstr.get(n) for n in ([0] if e.msgid_plural is None else [0, 1]))
    ]


# --- the catalogue file --------------------------------------------------------------------------


def test_every_english_entry_is_translated_and_none_is_fuzzy() -> None:
    entries = read_po(ROOT / PO_PATH)
    assert len(entries) > 500, "the catalogue looks truncated"
    assert untranslated(entries) == []
    assert [e.msgid for e in entries if "fuzzy" in e.flags] == []
    assert [e.msgid for e in entries if e.obsolete] == []


def test_english_catalogue_declares_english_plurals_and_utf8() -> None:
    header = read_header(ROOT / PO_PATH)
    assert "Language: en\n" in header
    assert "Content-Type: text/plain; charset=UTF-8\n" in header
    assert "Plural-Forms: nplurals=2; plural=(n != 1);\n" in header
    plurals = [e for e in read_po(ROOT / PO_PATH) if e.msgid_plural is not None]
    assert plurals, "the templates use {% blocktranslate count %}, so the catalogue must have plural entries"
    for entry in plurals:
        assert sorted(entry.msgstr) == [0, 1], entry.msgid


def test_english_translations_keep_every_placeholder() -> None:
    placeholder = re.compile(r"%\(\w+\)[-#0 +]*\d*(?:\.\d+)?[sdfr]")
    for entry in read_po(ROOT / PO_PATH):
        expected = sorted(placeholder.findall(entry.msgid))
        for form, text in entry.msgstr.items():
            assert sorted(placeholder.findall(text)) == expected, (entry.msgid, form, text)


def test_makemessages_finds_nothing_new_or_stale_in_the_source(tmp_path: Path) -> None:
    """Extract from a copy of the tree, so a string added to the code without a translation fails here."""

    def skip(directory: str, names: list[str]) -> set[str]:
        skipped = {n for n in names if n == "__pycache__" or n.endswith((".mo", ".pyc"))}
        if Path(directory) == ROOT:
            skipped |= NOT_SOURCE.intersection(names)
        return skipped

    copy = tmp_path / "tree"
    shutil.copytree(ROOT, copy, ignore=skip)
    env = {**os.environ, "FENGQIAO_VAR_DIR": str(tmp_path / "var")}
    result = subprocess.run(
        [sys.executable, "manage.py", *MAKEMESSAGES], cwd=copy, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    extracted = read_po(copy / PO_PATH)
    assert untranslated(extracted) == [], "new strings in the source: run makemessages and translate them"
    assert [e.msgid for e in extracted if "fuzzy" in e.flags] == []
    assert {e.msgid for e in read_po(ROOT / PO_PATH)} == {e.msgid for e in extracted}, (
        "locale/en/LC_MESSAGES/django.po is out of date: run makemessages"
    )


# --- compiling ------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def compiled_locale(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tree's catalogue compiled (with msgfmt's format checks) into a directory of its own."""
    target = tmp_path_factory.mktemp("locale")
    mo = target / "en" / "LC_MESSAGES" / "django.mo"
    mo.parent.mkdir(parents=True)
    result = subprocess.run(
        ["msgfmt", "--check", "-o", str(mo), str(ROOT / PO_PATH)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == "", result.stderr
    return target


@pytest.fixture
def english_catalogue(settings: Any, compiled_locale: Path) -> None:
    # Changing LOCALE_PATHS makes Django drop the catalogues it has already loaded in this process.
    settings.LOCALE_PATHS = [compiled_locale]


def test_compiled_catalogue_translates_model_labels_and_messages(english_catalogue: None) -> None:
    with translation.override("en"):
        assert str(CaseState.TRANSFERRED.label) == "Transferred to the institution"
        assert str(Case._meta.get_field("service_address").verbose_name) == "Electronic service address"
        assert translation.ngettext("剩余 %(days)s 天", "剩余 %(days)s 天", 1) % {"days": 1} == "1 day left"
        assert translation.ngettext("剩余 %(days)s 天", "剩余 %(days)s 天", 3) % {"days": 3} == "3 days left"
    with translation.override("zh-hans"):
        assert str(CaseState.TRANSFERRED.label) == "已转办机构"


# --- pages rendered in English ------------------------------------------------------------------


@dataclass
class World:
    centre: Organisation
    bank: Organisation
    consumer: User
    agent: User
    supervisor: User
    manager: User
    mediator: User
    clerk: User
    submitted: Case
    transferred: Case
    answered: Case
    awaiting_mediator: Case
    mediating: Case


@pytest.fixture
def world(db: None) -> World:
    """Latin-only people, organisations and cases, taken through the lifecycle by English speakers."""
    with translation.override("en"):
        centre = factories.organisation(Organisation.Kind.CENTRE, "Guangdong Mediation Centre", region="Guangzhou")
        bank = factories.organisation(Organisation.Kind.INSTITUTION, "South China Bank", region="Guangzhou")
        consumer = factories.user("zhang", Role.CONSUMER, real_name="Zhang San")
        agent = factories.user("zhao", Role.INSTITUTION_AGENT, bank, real_name="Zhao Li")
        supervisor = factories.user(
            "qian", Role.INSTITUTION_AGENT, bank, real_name="Qian Wei", can_approve_extensions=True
        )
        manager = factories.user("feng", Role.CASE_MANAGER, centre, real_name="Feng Hua", is_staff=True)
        mediator = factories.pool_mediator("wu", centre, real_name="Wu Wen")
        court = factories.organisation(
            Organisation.Kind.COURT, "Tianhe Court", court_level=Organisation.CourtLevel.BASIC, court_code="J0106"
        )
        clerk = factories.user("chu", Role.COURT_CLERK, court, real_name="Chu Ming")

        def complaint() -> Case:
            return factories.complaint(
                consumer,
                bank,
                centre,
                description="Card fee dispute: an instalment fee was charged without notice.",
                requested_outcome="Refund the instalment fee.",
            )

        def transfer(case: Case) -> Case:
            services.accept_case(case, actor=manager)
            return services.transfer_to_institution(case, actor=manager)

        submitted = complaint()
        transferred = transfer(complaint())
        services.request_answer_extension(transferred, actor=agent, reason="Complex case")
        services.request_answer_extension(transferred, actor=agent, reason="Still gathering records")
        answered = transfer(complaint())
        services.answer_complaint(answered, agent=agent, outcome="not_resolved", text="The fee was disclosed.")
        awaiting = transfer(complaint())
        services.answer_complaint(awaiting, agent=agent, outcome="not_resolved", text="The fee was disclosed.")
        services.request_mediation(awaiting, consumer=consumer)
        services.record_institution_consent(awaiting, agent=agent, consent=True)
        services.assign_mediator(awaiting, actor=manager, mediator=mediator)
        mediating = transfer(complaint())
        services.answer_complaint(mediating, agent=agent, outcome="not_resolved", text="The fee was disclosed.")
        services.request_mediation(mediating, consumer=consumer)
        services.record_institution_consent(mediating, agent=agent, consent=True)
        services.assign_mediator(mediating, actor=manager, mediator=mediator)
        factories.accept_assignment(mediating, mediator=mediator)
    return World(
        centre,
        bank,
        consumer,
        agent,
        supervisor,
        manager,
        mediator,
        clerk,
        submitted,
        transferred,
        answered,
        awaiting,
        mediating,
    )


def client_in(language: str, user: User | None = None) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = language
    if user is not None:
        client.force_login(user)
    return client


def chinese_left_in(html: str) -> list[str]:
    """Each line of the page that still holds Han characters or full-width punctuation."""
    html = LANGUAGE_SWITCH.sub("", html)
    return [line.strip() for line in html.splitlines() if HAN.search(line) or CJK_PUNCTUATION.search(line)]


def case_pages(world: World) -> dict[str, tuple[User | None, str]]:
    def detail(case: Case) -> str:
        return reverse("case_detail", kwargs={"pk": case.pk})

    return {
        "login": (None, reverse("login")),
        "register": (None, reverse("register")),
        "court clerk inbox": (world.clerk, reverse("judicial:court_inbox")),
        "consumer case list": (world.consumer, reverse("my_cases")),
        "complaint form": (world.consumer, reverse("file_complaint")),
        "consumer case, submitted": (world.consumer, detail(world.submitted)),
        "consumer case, transferred": (world.consumer, detail(world.transferred)),
        "consumer case, answered": (world.consumer, detail(world.answered)),
        "consumer case, in mediation": (world.consumer, detail(world.mediating)),
        "two-step setup": (world.manager, reverse("otp_setup")),
        "institution inbox": (world.supervisor, reverse("institution_inbox")),
        "institution answer form": (world.agent, reverse("institution_answer", kwargs={"pk": world.transferred.pk})),
        "institution case, answered": (world.agent, detail(world.answered)),
        "mediator case, assignment offered": (world.mediator, detail(world.awaiting_mediator)),
        "mediator case, in mediation": (world.mediator, detail(world.mediating)),
        "case manager list": (world.manager, reverse("staff:case_list")),
        "case manager case, submitted": (world.manager, detail(world.submitted)),
        "case manager case, in mediation": (world.manager, detail(world.mediating)),
        "case manager intake": (world.manager, reverse("staff:intake")),
        "case manager statistics": (world.manager, reverse("staff:statistics")),
    }


def test_pages_in_english_show_no_chinese_except_the_language_switch(english_catalogue: None, world: World) -> None:
    leftovers: dict[str, list[str]] = {}
    for name, (user, url) in case_pages(world).items():
        response = client_in("en", user).get(url)
        assert response.status_code == 200, (name, url, response.status_code)
        html = response.content.decode()
        assert 'lang="en"' in html, name
        if found := chinese_left_in(html):
            leftovers[name] = found
    assert leftovers == {}


def test_english_pages_really_are_translated(english_catalogue: None, world: World) -> None:
    login_page = client_in("en").get(reverse("login")).content.decode()
    assert "Sign in" in login_page and "Fengqiao Online Mediation Platform for Financial Disputes" in login_page
    case_page = client_in("en", world.consumer).get(reverse("case_detail", kwargs={"pk": world.mediating.pk}))
    html = case_page.content.decode()
    assert "In mediation" in html and "Respondent institution" in html and "Case history" in html
    inbox = client_in("en", world.supervisor).get(reverse("institution_inbox")).content.decode()
    assert "Extension requests awaiting your approval" in inbox
    assert "Zhao Li requested a further 30-day extension: Still gathering records" in inbox


def test_same_pages_in_chinese_are_chinese(english_catalogue: None, world: World) -> None:
    for name, (user, url) in case_pages(world).items():
        response = client_in("zh-hans", user).get(url)
        assert response.status_code == 200, (name, url, response.status_code)
        html = response.content.decode()
        assert HAN.search(LANGUAGE_SWITCH.sub("", html)), name
    login_page = client_in("zh-hans").get(reverse("login")).content.decode()
    assert "枫桥金融纠纷在线调解平台" in login_page and "Sign in" not in login_page


def test_messages_after_an_action_are_english(english_catalogue: None, world: World) -> None:
    client = client_in("en", world.consumer)
    response = client.post(reverse("case_accept_resolution", kwargs={"pk": world.answered.pk}), follow=True)
    html = response.content.decode()
    assert "You have accepted the institution&#x27;s resolution, and the case is closed." in html
    assert chinese_left_in(html) == []
    world.answered.refresh_from_db()
    assert world.answered.state == CaseState.CLOSED
