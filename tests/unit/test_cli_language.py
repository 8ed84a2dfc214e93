"""The CLI as a Vietnamese administrator meets it (issue #9): one language per run, help
texts complete in both languages, flags without `<bool>`, lists that say when they are
empty, invitations listed by agency code, database errors said in words, never leaked."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import typer.main
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from bot.cli import app as cli_app
from bot.cli.common import describe_conflict
from bot.cli.lang import from_command_line, language, localise, set_language

# Letters only Vietnamese writes: English text containing one was not translated.
VIETNAMESE = re.compile(r"[ăâđêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ]", re.IGNORECASE)
NEUTRAL = ("Phiếu",)  # the product's name


def run(*args: str, env: dict[str, str | None] | None = None) -> Any:
    base: dict[str, str | None] = {"LC_ALL": None, "LC_MESSAGES": None, "LANG": "C.UTF-8"}
    result = CliRunner().invoke(cli_app, list(args), env={**base, **(env or {})})
    assert "Traceback" not in result.output, result.output
    return result


def commands() -> list[tuple[str, Any]]:
    """Every command of the tree with its path, the root first."""
    root = typer.main.get_command(cli_app)
    out: list[tuple[str, Any]] = []

    def walk(path: str, cmd: Any) -> None:
        out.append((path, cmd))
        for name, sub in getattr(cmd, "commands", {}).items():
            walk(f"{path} {name}".strip(), sub)

    walk("", root)
    return out


def _texts(lang: str) -> list[tuple[str, str, str]]:
    """(command, what, text) of every help text, translated for `lang`."""
    root = typer.main.get_command(cli_app)
    localise(root, lang)
    found: list[tuple[str, str, str]] = []

    def walk(path: str, cmd: Any) -> None:
        ctx = cmd.context_class(cmd, info_name=cmd.name)
        found.append((path, "help", cmd.help or ""))
        for param in [*cmd.params, cmd.get_help_option(ctx)]:
            if param is None:
                continue
            found.append((path, f"{param.name}", param.help or ""))
        for name, sub in getattr(cmd, "commands", {}).items():
            walk(f"{path} {name}".strip(), sub)

    walk("", root)
    return found


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_every_command_and_option_has_help_in_both_languages(lang: str) -> None:
    texts = _texts(lang)
    assert len(texts) > 60  # every command and option, not a handful
    missing = [(c, w) for c, w, text in texts if not text.strip()]
    assert missing == []
    if lang == "en":
        untranslated = [
            (c, w, text) for c, w, text in texts if VIETNAMESE.search(text.replace(NEUTRAL[0], ""))
        ]
        assert untranslated == []


@pytest.mark.parametrize("path", [p for p, _ in commands()])
def test_help_shows_no_bool_noise_and_follows_the_language(path: str) -> None:
    args = path.split() if path else []
    vi = run(*args, "--help")
    en = run("--lang", "en", *args, "--help")
    for result in (vi, en):
        assert result.exit_code == 0, result.output
        assert "<bool>" not in result.output
    # The help column may be narrow (long flag names): compare the words, not the wrapping.
    vi_words, en_words = (" ".join(re.sub(r"[│╭╮╰╯─]", " ", r.output).split()) for r in (vi, en))
    assert "Hiện hướng dẫn này rồi thoát." in vi_words and "Tuỳ chọn" in vi.output
    assert "Show this message and exit." in en_words and "Options" in en.output
    assert "Tuỳ chọn" not in en.output


def test_the_locale_chooses_english_and_lang_wins_over_it() -> None:
    assert (
        "Open a collection campaign"
        in run("campaign", "open", "--help", env={"LANG": "en_US.UTF-8"}).output
    )
    assert (
        "Open a collection campaign"
        in run(
            "campaign", "open", "--help", env={"LC_ALL": "en_GB.UTF-8", "LANG": "vi_VN.UTF-8"}
        ).output
    )
    assert (
        "Mở một đợt thu thập phiếu"
        in run("--lang", "vi", "campaign", "open", "--help", env={"LANG": "en_US.UTF-8"}).output
    )
    assert "Mở một đợt thu thập phiếu" in run("campaign", "open", "--help").output


def test_an_unknown_language_is_refused_politely() -> None:
    r = run("--lang", "fr", "campaign", "list")
    assert r.exit_code == 2
    assert "--lang: chỉ có vi (tiếng Việt) hoặc en (English), không có 'fr'." in r.output


def test_one_language_per_run_for_messages(tmp_path: Path) -> None:
    db = str(tmp_path / "p.db")
    assert run("--lang", "en", "campaign", "list", "--db", db).output.startswith(
        "No campaigns yet. Open one: phieu campaign open"
    )
    assert run("campaign", "list", "--db", db).output.startswith("Chưa có đợt nào.")
    assert run("--lang", "en", "invite", "list", "--db", db).output.startswith(
        "No invitations yet."
    )
    assert run("agencies", "list", "--db", db).output.startswith("Chưa có cơ quan nào.")
    r = run("--lang=en", "campaign", "close", "7", "--db", db)
    assert r.exit_code == 1 and r.output.startswith("No campaign #7.")


def test_a_duplicate_agency_is_said_in_words_not_in_sql(tmp_path: Path) -> None:
    db = str(tmp_path / "p.db")
    add = ("agencies", "add", "--code", "STTTT", "--name", "Sở", "--cohort", "so", "--db", db)
    assert run(*add).exit_code == 0
    r = run(*add)
    assert r.exit_code == 1
    assert r.output.strip() == (
        "Không thêm: mã STTTT đã có cơ quan STTTT — Sở (chữ hoa hay thường là một mã). Để sửa "
        'cơ quan này: phieu agencies edit STTTT --name "Tên mới"; hoặc chọn mã khác.'
    )
    assert "UNIQUE" not in r.output  # words, not SQL
    r = run("--lang", "en", *add)
    assert r.output.strip().startswith("Not added: code STTTT is already agency STTTT — Sở")


def test_invite_list_shows_agency_codes(tmp_path: Path) -> None:
    db = str(tmp_path / "p.db")
    run("agencies", "add", "--code", "SYT", "--name", "Sở Y tế", "--cohort", "so", "--db", db)
    r = run("invite", "create", "--agency", "syt", "--role", "reviewer", "--db", db)
    assert r.exit_code == 0, r.output
    assert "https://t.me/" not in r.output and "/start " in r.output  # no placeholder link
    line = run("invite", "list", "--db", db).output.strip()
    assert re.fullmatch(
        r"#1\t[0-9a-f]{8}…\tSYT\treviewer\t—\tcòn 1 lần\thết hạn \S+\tcòn hiệu lực", line
    )


def test_an_invitation_expiring_in_the_past_is_refused(tmp_path: Path) -> None:
    db = str(tmp_path / "p.db")
    run("agencies", "add", "--code", "SYT", "--name", "Sở Y tế", "--cohort", "so", "--db", db)
    r = run("invite", "create", "--agency", "SYT", "--expires", "01/01/2020", "--db", db)
    assert r.exit_code == 2 and "--expires 01/01/2020 đã qua" in r.output
    assert "Chưa có mã mời nào" in run("invite", "list", "--db", db).output


def test_conflicts_are_described_by_constraint_on_both_databases() -> None:
    set_language("vi")
    sqlite = "UNIQUE constraint failed: agencies.code"
    postgres = 'duplicate key value violates unique constraint "uq_agencies_code"'
    assert describe_conflict(sqlite) == describe_conflict(postgres) == "mã cơ quan này đã có"
    assert "tham chiếu" in describe_conflict("FOREIGN KEY constraint failed")
    assert describe_conflict("something else") == "cơ sở dữ liệu từ chối thay đổi này"


@given(
    st.lists(st.sampled_from(["campaign", "list", "-v", "--db", "x", "--lang", "en", "vi"])),
    st.sampled_from(["", "en_US.UTF-8", "vi_VN", "C", "fr_FR"]),
)
def test_the_language_is_always_vi_or_en_or_a_polite_refusal(args: list[str], locale: str) -> None:
    try:
        lang = from_command_line(args, {"LANG": locale} if locale else {})
    except ValueError as e:
        assert "--lang" in str(e)
        return
    assert lang in ("vi", "en")
    set_language(lang)
    assert language() == lang
    set_language("vi")


@pytest.mark.parametrize(
    ("args", "vi", "en"),
    [
        (("campaign", "open", "--deadline", "1"), "Thiếu tuỳ chọn --form.", "Missing option"),
        (("campaign", "list", "--bogus"), "Không có tuỳ chọn --bogus.", "No such option"),
        (("campaign", "lisst"), "Không có lệnh 'lisst'. Có phải ý anh/chị là 'list'?", "No such"),
        (("campaign", "close"), "Thiếu tham số campaign_id.", "Missing argument"),
        (
            ("campaign", "open", "--form", "x", "--deadline", "1", "--year", "abc"),
            "--year: phải là một số nguyên, ví dụ 2026.",
            "Invalid value",
        ),
    ],
)
def test_command_line_mistakes_are_said_in_the_run_s_language(
    args: tuple[str, ...], vi: str, en: str
) -> None:
    said = run(*args)
    assert said.exit_code == 2 and vi in said.output, said.output
    assert "Xem hướng dẫn:" in said.output
    english = run("--lang", "en", *args)
    assert english.exit_code == 2 and en in english.output and vi not in english.output
