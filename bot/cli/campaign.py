"""`phieu campaign`: collection campaigns (đợt thu thập phiếu), issue #9.

A campaign is a form (id and version), the year its answers are about, the agencies that
answer it (cohorts and/or a list of codes), an open date and a deadline (Asia/Ho_Chi_Minh),
a status (draft → open → closed) and a name. Nothing here ever orphans answers: a second
campaign for the same form, year and agencies is refused and the open one named; closing
keeps every answer; an agency in two open campaigns answers both (its officials choose).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import typer

from bot.cli.common import (
    DB_OPTION,
    TZ,
    cohort_code,
    date_option,
    day,
    fail,
    in_unit,
    parse_day,
    say,
    today_local,
)
from bot.cli.lang import t
from bot.render import reply_to_json
from flows.i18n import N_, normalise_language, translate
from flows.loader import builtin_forms
from flows.model import Form
from flows.state import Reply
from storage.records import AgencyRec, CampaignRec
from storage.repository import Unit

campaign_app = typer.Typer(
    help=N_("Đợt thu thập phiếu: mở, đóng, gia hạn, thêm cơ quan, xem danh sách."),
    no_args_is_help=True,
)

_NOTIFY_HELP = N_("Báo cho cán bộ qua bot (mặc định: có)")
_STATUS_WORDS = {"draft": N_("nháp"), "open": N_("đang mở"), "closed": N_("đã đóng")}
_EXAMPLES = 3  # agency codes named in a message before "…"


def _form(form_id: str) -> Form:
    forms = builtin_forms()
    if form_id not in forms:
        fail(
            N_("Không có mẫu phiếu {form!r}. Có: {known}"),
            form=form_id,
            known=", ".join(sorted(forms)),
        )
    return forms[form_id]


def _split(values: list[str] | None) -> list[str]:
    """Repeated options and comma-separated lists alike: --cohort so,huyen --cohort xa."""
    return [v.strip() for value in values or [] for v in value.split(",") if v.strip()]


def _cohorts(values: list[str] | None, form: Form | None) -> list[str]:
    """Cohort codes from the command line, checked against the form's cohorts."""
    codes = list(dict.fromkeys(cohort_code("--cohort", v) for v in _split(values)))
    if form is not None and form.cohorts:
        wrong = [c for c in codes if c not in form.cohorts]
        if wrong:
            fail(
                N_(
                    "Mẫu phiếu {form} dành cho khối {cohorts}; khối {wrong} không trả lời mẫu "
                    "này. Chọn khối khác, hoặc nêu tên từng cơ quan bằng --agency."
                ),
                form=form.id,
                cohorts=", ".join(form.cohorts),
                wrong=", ".join(wrong),
            )
    return codes


def _codes(agencies: dict[str, AgencyRec], limit: int = _EXAMPLES) -> str:
    names = sorted(a.code for a in agencies.values())
    return ", ".join(names[:limit]) + (", …" if len(names) > limit else "")


async def _named(unit: Unit, values: list[str] | None) -> dict[str, AgencyRec]:
    """Agencies named by code (any case); stops, changing nothing, if a code is unknown."""
    codes = list(dict.fromkeys(_split(values)))
    found = await unit.agencies_by_codes(codes)
    missing = [c for c in codes if c not in found]
    if missing:
        fail(
            N_("Không có cơ quan mã {codes}. Xem: phieu agencies list"),
            1,
            codes=", ".join(missing),
        )
    return found


def _warn_outside(form: Form | None, named: dict[str, AgencyRec]) -> None:
    """An agency named outright though the form is for other cohorts: allowed, said aloud."""
    if form is None or not form.cohorts:
        return
    outside = {c: a for c, a in named.items() if a.cohort not in form.cohorts}
    if outside:
        say(
            N_(
                "Cảnh báo: {codes} không thuộc khối mẫu phiếu {form} dành cho ({cohorts}); "
                "vẫn thêm vì được nêu tên."
            ),
            codes=_codes(outside, len(outside)),
            form=form.id,
            cohorts=", ".join(form.cohorts),
        )


@dataclass(frozen=True)
class _Overlap:
    campaign: CampaignRec
    agencies: list[AgencyRec]


async def _target_ids(unit: Unit, cohorts: list[str], named: dict[str, AgencyRec]) -> set[int]:
    """The agencies cohorts + a list would target (as Unit.campaign_targets counts them)."""
    ids = {a.id for a in named.values()}
    ids.update(a.id for a in await unit.list_agencies() if a.cohort in cohorts)
    return ids


async def _duplicate(
    unit: Unit,
    form_id: str,
    year: int,
    cohorts: list[str],
    new_ids: set[int],
    but: int | None = None,
) -> _Overlap | None:
    """An open (or draft) campaign of the same form and reporting year sharing agencies
    (or a cohort, when the cohort has no agency yet) with the targets given."""
    for other in await unit.list_campaigns():
        if other.id == but or other.status == "closed":
            continue
        if other.form_id != form_id or other.reporting_year != year:
            continue
        theirs = await unit.campaign_targets(other.id)
        shared = [a for a in theirs if a.id in new_ids]
        if shared or set(other.cohorts) & set(cohorts):
            return _Overlap(other, shared)
    return None


def _refuse_duplicate(found: _Overlap) -> None:
    c = found.campaign
    codes = _codes({a.code: a for a in found.agencies}) or "—"
    fail(
        N_(
            "Đã có đợt #{id} “{name}” ({status}) cho mẫu phiếu {form}, năm báo cáo {year}, hạn "
            "{deadline}, với cùng cơ quan ({n} cơ quan trùng: {codes}). Không mở đợt trùng: câu "
            "trả lời của cán bộ nằm ở đợt #{id}. Dời hạn: phieu campaign extend {id} --deadline "
            "DD/MM/YYYY; thêm cơ quan: phieu campaign add {id} --agency MÃ."
        ),
        1,
        id=str(c.id),
        name=c.name,
        status=t(_STATUS_WORDS[c.status]),
        form=c.form_id,
        year=str(c.reporting_year),
        deadline=day(c.deadline),
        n=len(found.agencies),
        codes=codes,
    )


def _reporting_year(year: int | None, form: Form, deadline: date) -> int:
    """--year, or the form's own year when the deadline falls in it; never a guess."""
    if year is None:
        if form.reporting_year is not None and form.reporting_year == deadline.year:
            return form.reporting_year
        fail(
            N_(
                "Cho biết năm báo cáo (năm mà số liệu nói về) bằng --year, ví dụ --year {guess}. "
                "Mẫu phiếu {form} viết cho năm {form_year}; hạn nộp {deadline}."
            ),
            guess=str(deadline.year),
            form=form.id,
            form_year=str(form.reporting_year or "—"),
            deadline=day(deadline),
        )
    if not 1990 <= year <= deadline.year:
        fail(
            N_(
                "--year {year}: năm báo cáo phải từ 1990 đến năm của hạn nộp ({last}). Ví dụ: "
                "--year {last}"
            ),
            year=str(year),
            last=str(deadline.year),
        )
    return year


def _default_name(form: Form, year: int, width: int = 60) -> str:
    """The form's title, cut at a word to fit a button, and the reporting year."""
    title = " ".join(form.title.vi.split())
    if len(title) > width:
        title = title[:width].rsplit(" ", 1)[0].rstrip(",;:-—") + "…"
    return f"{title} ({year})"


def _future(option: str, value: date, today: date) -> None:
    if value < today:
        fail(
            N_("{option} {value} đã qua (hôm nay là {today}). Ví dụ: {option} {example}"),
            option=option,
            value=day(value),
            today=day(today),
            example=day(today + timedelta(days=30)),
        )


@campaign_app.command(
    "open",
    help=N_(
        "Mở một đợt thu thập phiếu: mẫu phiếu, năm báo cáo, các cơ quan trả lời (theo khối "
        "và/hoặc mã), ngày mở và hạn nộp (giờ Việt Nam). Từ chối mở trùng một đợt đang mở."
    ),
)
def campaign_open(
    form: str = typer.Option(
        ..., "--form", metavar=N_("MÃ_MẪU"), help=N_("Mã mẫu phiếu (xem: phieu forms list)")
    ),
    deadline: str = date_option(
        ..., "--deadline", N_("Hạn nộp, DD/MM/YYYY (hết ngày, giờ Việt Nam)")
    ),
    year: int | None = typer.Option(
        None,
        "--year",
        metavar=N_("NĂM"),
        help=N_(
            "Năm báo cáo: năm mà số liệu nói về (bắt buộc, trừ khi hạn nộp rơi vào đúng năm "
            "của mẫu phiếu)"
        ),
    ),
    cohort: list[str] | None = typer.Option(
        None,
        "--cohort",
        metavar=N_("KHỐI"),
        help=N_(
            "Khối trả lời: so, huyen, xa (lặp lại hoặc cách nhau bằng dấu phẩy; mặc định: các "
            "khối của mẫu phiếu, khi không nêu --agency)"
        ),
    ),
    agency: list[str] | None = typer.Option(
        None,
        "--agency",
        metavar=N_("MÃ"),
        help=N_("Mã cơ quan trả lời, thêm vào các khối (lặp lại hoặc cách nhau bằng dấu phẩy)"),
    ),
    opens: str | None = date_option(
        None, "--opens", N_("Ngày mở cho cán bộ, DD/MM/YYYY (mặc định: ngay bây giờ)")
    ),
    name: str | None = typer.Option(
        None,
        "--name",
        metavar=N_("TÊN"),
        help=N_("Tên đợt, cán bộ thấy khi chọn phiếu (mặc định: tên mẫu phiếu)"),
    ),
    notify: bool = typer.Option(True, "--notify/--no-notify", help=_NOTIFY_HELP),
    draft: bool = typer.Option(
        False,
        "--draft",
        help=N_("Chỉ soạn sẵn (nháp): cán bộ chưa thấy đợt cho tới phieu campaign start SỐ"),
    ),
    db: Path | None = DB_OPTION,
) -> None:
    f = _form(form)
    due = parse_day(deadline, "--deadline")
    today = today_local()
    _future("--deadline", due, today)
    opens_on = parse_day(opens, "--opens") if opens else None
    if opens_on is not None and opens_on > due:
        fail(
            N_("--opens {opens} sau hạn nộp {deadline}: ngày mở phải trước hạn nộp."),
            opens=day(opens_on),
            deadline=day(due),
        )
    reporting_year = _reporting_year(year, f, due)
    cohorts = _cohorts(cohort, f)
    if not cohorts and not _split(agency):
        if not f.cohorts:
            fail(
                N_(
                    "Mẫu phiếu {form} không nói dành cho khối nào: cho biết cơ quan trả lời "
                    "bằng --cohort (so, huyen, xa) hoặc --agency MÃ."
                ),
                form=f.id,
            )
        cohorts = list(f.cohorts)
    title = (name or "").strip() or _default_name(f, reporting_year)

    async def work(u: Unit) -> tuple[CampaignRec, int, list[CampaignRec], _Told | None]:
        named = await _named(u, agency)
        _warn_outside(f, named)
        new_ids = await _target_ids(u, cohorts, named)
        found = await _duplicate(u, f.id, reporting_year, cohorts, new_ids)
        if found is not None:
            _refuse_duplicate(found)
        others = []
        for other in await u.list_campaigns("open"):
            if {a.id for a in await u.campaign_targets(other.id)} & new_ids:
                others.append(other)
        rec = await u.add_campaign(
            f.id,
            f.version,
            title,
            due,
            TZ,
            reporting_year=reporting_year,
            opens_on=opens_on,
            cohorts=cohorts,
            agency_ids=[a.id for a in named.values()],
            status="draft" if draft else "open",
        )
        told = None
        if notify and not draft and (opens_on is None or opens_on <= today):
            told = await _tell_opened(u, rec)
        return rec, len(await u.campaign_targets(rec.id)), others, told

    rec, n, others, told = in_unit(db, work)
    say(
        N_(
            "Đã mở đợt #{id} “{name}”: {form} v{version}, năm báo cáo {year}, hạn {deadline} "
            "(giờ Việt Nam), {n} cơ quan."
        ),
        id=str(rec.id),
        name=rec.name,
        form=rec.form_id,
        version=str(rec.form_version),
        year=str(rec.reporting_year),
        deadline=day(rec.deadline),
        n=n,
    )
    if n == 0:
        say(
            N_(
                "Cảnh báo: chưa có cơ quan nào thuộc đợt này (khối {cohorts}). Thêm cơ quan "
                "(phieu agencies add) hoặc: phieu campaign add {id} --agency MÃ."
            ),
            cohorts=", ".join(rec.cohorts) or "—",
            id=str(rec.id),
        )
    if draft:
        say(
            N_("Đợt #{id} là bản nháp: cán bộ chưa thấy. Mở cho cán bộ: phieu campaign start {id}"),
            id=str(rec.id),
        )
    elif opens_on is not None and opens_on > today:
        say(N_("Cán bộ thấy đợt này từ ngày {opens}."), opens=day(opens_on))
    if others:
        say(
            N_(
                "Một số cơ quan đang có đợt khác mở ({campaigns}): cán bộ của họ sẽ chọn phiếu "
                "muốn làm; câu trả lời của mỗi đợt giữ riêng."
            ),
            campaigns=", ".join(f"#{o.id}" for o in others),
        )
    if told is not None and (told.reached or told.silent):
        _report(told)


async def _campaign(u: Unit, campaign_id: int, *, open_only: bool = True) -> CampaignRec:
    rec = await u.campaign(campaign_id)
    if rec is None:
        fail(N_("Không có đợt #{id}. Xem: phieu campaign list"), 1, id=str(campaign_id))
    if open_only and rec.status == "closed":
        when = day(rec.closed_at.astimezone(UTC).date()) if rec.closed_at else "—"
        fail(N_("Đợt #{id} đã đóng (ngày {when})."), 1, id=str(rec.id), when=when)
    return rec


@campaign_app.command(
    "start", help=N_("Mở cho cán bộ một đợt đang là bản nháp (tạo bằng campaign open --draft).")
)
def campaign_start(
    campaign_id: int = typer.Argument(..., help=N_("Số đợt (xem: phieu campaign list)")),
    notify: bool = typer.Option(True, "--notify/--no-notify", help=_NOTIFY_HELP),
    db: Path | None = DB_OPTION,
) -> None:
    today = today_local()

    async def work(u: Unit) -> tuple[CampaignRec, int, _Told | None]:
        rec = await _campaign(u, campaign_id)
        if rec.status != "draft":
            fail(N_("Đợt #{id} không phải bản nháp: nó đang mở."), 1, id=str(rec.id))
        if rec.deadline < today:
            fail(
                N_(
                    "Hạn nộp {deadline} của đợt #{id} đã qua: dời hạn trước (phieu campaign "
                    "extend {id} --deadline DD/MM/YYYY)."
                ),
                deadline=day(rec.deadline),
                id=str(rec.id),
            )
        targets = await u.campaign_targets(rec.id)
        found = await _duplicate(
            u, rec.form_id, rec.reporting_year, list(rec.cohorts), {a.id for a in targets}, rec.id
        )
        if found is not None:
            _refuse_duplicate(found)
        await u.start_campaign(rec.id, datetime.now(UTC))
        told = await _tell_opened(u, rec) if notify else None
        return rec, len(targets), told

    rec, n, told = in_unit(db, work)
    say(
        N_("Đã mở đợt #{id} “{name}” cho cán bộ: {n} cơ quan, hạn {deadline}."),
        id=str(rec.id),
        name=rec.name,
        n=n,
        deadline=day(rec.deadline),
    )
    if told is not None and (told.reached or told.silent):
        _report(told)


@campaign_app.command(
    "close",
    help=N_(
        "Đóng một đợt: cán bộ không trả lời, sửa hay nộp được nữa; mọi câu trả lời vẫn được "
        "giữ để thẩm định và xuất."
    ),
)
def campaign_close(
    campaign_id: int = typer.Argument(..., help=N_("Số đợt (xem: phieu campaign list)")),
    db: Path | None = DB_OPTION,
) -> None:
    async def work(u: Unit) -> tuple[CampaignRec, int, int]:
        rec = await _campaign(u, campaign_id)
        await u.close_campaign(rec.id, datetime.now(UTC))
        subs = await u.list_submissions(rec.id)
        submitted = sum(1 for s in subs if s.submitted_at is not None)
        return rec, submitted, len(await u.campaign_targets(rec.id))

    rec, submitted, targets = in_unit(db, work)
    say(
        N_("Đã đóng đợt #{id} “{name}”: {submitted}/{targets} cơ quan đã nộp phiếu."),
        id=str(rec.id),
        name=rec.name,
        submitted=submitted,
        targets=targets,
    )


@campaign_app.command(
    "extend",
    help=N_("Dời hạn nộp của một đợt đang mở và báo cho cán bộ các cơ quan trong đợt."),
)
def campaign_extend(
    campaign_id: int = typer.Argument(..., help=N_("Số đợt (xem: phieu campaign list)")),
    deadline: str = date_option(..., "--deadline", N_("Hạn nộp mới, DD/MM/YYYY")),
    note: str | None = typer.Option(
        None,
        "--note",
        metavar=N_("LỜI_NHẮN"),
        help=N_("Lời nhắn gửi kèm cho cán bộ (ví dụ lý do gia hạn)"),
    ),
    notify: bool = typer.Option(
        True, "--notify/--no-notify", help=N_("Báo hạn mới cho cán bộ qua bot (mặc định: có)")
    ),
    db: Path | None = DB_OPTION,
) -> None:
    due = parse_day(deadline, "--deadline")
    _future("--deadline", due, today_local())

    async def work(u: Unit) -> tuple[CampaignRec, _Told | None]:
        rec = await _campaign(u, campaign_id)
        if due <= rec.deadline:
            fail(
                N_("Hạn mới {new} phải sau hạn hiện tại {old}."),
                new=day(due),
                old=day(rec.deadline),
            )
        await u.extend_campaign(rec.id, due)
        told = None
        if notify:
            told = await _tell(u, rec, lambda lang, _: _extension_notice(lang, rec, due, note))
        return rec, told

    rec, told = in_unit(db, work)
    say(
        N_("Đã dời hạn đợt #{id} “{name}”: {old} → {new}."),
        id=str(rec.id),
        name=rec.name,
        old=day(rec.deadline),
        new=day(due),
    )
    if told is not None:
        _report(told)


def _extension_notice(lang: str, rec: CampaignRec, due: date, note: str | None) -> str:
    text = translate(
        lang,
        N_("📅 Phiếu “{name}” được gia hạn: hạn nộp mới là {new} (trước đây {old})."),
        {"name": rec.name, "new": day(due), "old": day(rec.deadline)},
    )
    if note and note.strip():
        text += "\n" + translate(lang, N_("Lời nhắn của Sở TTTT: {note}"), {"note": note.strip()})
    return text


@dataclass(frozen=True)
class _Told:
    sent: int = 0  # outbox rows queued (one per identity)
    reached: int = 0  # officials with at least one identity
    silent: int = 0  # officials who never opened the bot


async def _tell(
    u: Unit,
    rec: CampaignRec,
    text_for: Callable[[str, int], str],
    agency_ids: set[int] | None = None,
) -> _Told:
    """Queue a notice to every chat identity of the campaign's officials (of `agency_ids`
    only, if given): `text_for(language, agency_id)` is what each reads. Sent after commit
    by the outbox workers, paced as notices."""
    sent = reached = silent = 0
    for user, identities in await u.campaign_officials(rec.id):
        if agency_ids is not None and user.agency_id not in agency_ids:
            continue
        if not identities:
            silent += 1
            continue
        reached += 1
        assert user.agency_id is not None
        payload = reply_to_json(
            Reply(text_for(normalise_language(user.lang), user.agency_id), kind="notice")
        )
        for ident in identities:
            await u.enqueue(ident.channel, ident.external_id, payload, kind="notice")
            sent += 1
    return _Told(sent, reached, silent)


async def _tell_opened(u: Unit, rec: CampaignRec, agency_ids: set[int] | None = None) -> _Told:
    """Officials hear of a campaign opened to them; with another campaign open for their
    agency they are told how to choose (/phieu), else how to start (/menu)."""
    several: dict[int, bool] = {}

    async def count(agency_id: int) -> bool:
        if agency_id not in several:
            several[agency_id] = len(await u.open_campaigns_for_agency(agency_id)) > 1
        return several[agency_id]

    for user, _ in await u.campaign_officials(rec.id):
        if user.agency_id is not None:
            await count(user.agency_id)

    def text_for(lang: str, agency_id: int) -> str:
        msgid = (
            N_(
                "📋 Có phiếu mới cần trả lời: “{name}”, hạn nộp {deadline}. Gõ /phieu để "
                "chọn phiếu muốn làm."
            )
            if several.get(agency_id)
            else N_("📋 Có phiếu cần trả lời: “{name}”, hạn nộp {deadline}. Gõ /menu để bắt đầu.")
        )
        return translate(lang, msgid, {"name": rec.name, "deadline": day(rec.deadline)})

    return await _tell(u, rec, text_for, agency_ids)


def _report(told: _Told) -> None:
    say(N_("Đã xếp {sent} tin báo cho {reached} cán bộ."), sent=told.sent, reached=told.reached)
    if told.silent:
        say(
            N_("{n} cán bộ chưa mở bot lần nào nên không nhận được tin: hãy báo họ cách khác."),
            n=told.silent,
        )


@campaign_app.command(
    "add",
    help=N_(
        "Thêm cơ quan (theo mã) hoặc cả khối vào một đợt đang mở; cơ quan đã có đợt trùng "
        "(cùng mẫu phiếu và năm báo cáo) thì bị từ chối."
    ),
)
def campaign_add(
    campaign_id: int = typer.Argument(..., help=N_("Số đợt (xem: phieu campaign list)")),
    agency: list[str] | None = typer.Option(
        None,
        "--agency",
        metavar=N_("MÃ"),
        help=N_("Mã cơ quan (lặp lại hoặc cách nhau bằng dấu phẩy)"),
    ),
    cohort: list[str] | None = typer.Option(
        None,
        "--cohort",
        metavar=N_("KHỐI"),
        help=N_("Khối: so, huyen, xa (lặp lại hoặc cách nhau bằng dấu phẩy)"),
    ),
    notify: bool = typer.Option(True, "--notify/--no-notify", help=_NOTIFY_HELP),
    db: Path | None = DB_OPTION,
) -> None:
    if not _split(agency) and not _split(cohort):
        fail(
            N_("Cho biết thêm gì: --agency MÃ hoặc --cohort so|huyen|xa. Ví dụ: --agency STTTT"),
        )

    async def work(u: Unit) -> tuple[CampaignRec, int, int, _Told | None]:
        rec = await _campaign(u, campaign_id)
        form = builtin_forms().get(rec.form_id)
        cohorts = _cohorts(cohort, form)
        named = await _named(u, agency)
        _warn_outside(form, named)
        had = {a.id for a in await u.campaign_targets(rec.id)}
        new_ids = await _target_ids(u, cohorts, named)
        found = await _duplicate(u, rec.form_id, rec.reporting_year, cohorts, new_ids, rec.id)
        if found is not None:
            _refuse_duplicate(found)
        if cohorts:
            await u.add_campaign_cohorts(rec.id, cohorts)
        await u.add_campaign_agencies(rec.id, [a.id for a in named.values()])
        now = {a.id for a in await u.campaign_targets(rec.id)}
        told = None
        if notify and rec.status == "open" and now - had:
            told = await _tell_opened(u, rec, now - had)
        return rec, len(had), len(now), told

    rec, before, after, told = in_unit(db, work)
    say(
        N_("Đợt #{id} “{name}”: {before} → {after} cơ quan."),
        id=str(rec.id),
        name=rec.name,
        before=before,
        after=after,
    )
    if told is not None and (told.reached or told.silent):
        _report(told)


@campaign_app.command("list", help=N_("Danh sách các đợt, mới nhất ở cuối."))
def campaign_list(
    status: str | None = typer.Option(
        None,
        "--status",
        metavar=N_("TRẠNG_THÁI"),
        help=N_("Chỉ các đợt: draft (nháp), open (đang mở), closed (đã đóng)"),
    ),
    db: Path | None = DB_OPTION,
) -> None:
    if status is not None and status not in _STATUS_WORDS:
        fail(N_("--status phải là một trong: {allowed}"), allowed=", ".join(_STATUS_WORDS))

    async def work(u: Unit) -> list[tuple[CampaignRec, int]]:
        return [(c, len(await u.campaign_targets(c.id))) for c in await u.list_campaigns(status)]

    rows = in_unit(db, work)
    if not rows and status is not None:  # there may be campaigns, just none with this status
        say(
            N_("Không có đợt nào ở trạng thái “{status}”. Xem tất cả các đợt: phieu campaign list"),
            status=t(_STATUS_WORDS[status]),
        )
        return
    if not rows:
        say(
            N_(
                "Chưa có đợt nào. Mở đợt: phieu campaign open --form MÃ --deadline DD/MM/YYYY "
                "--year NĂM"
            )
        )
        return
    for c, n in rows:
        typer.echo(
            "\t".join(
                (
                    f"#{c.id}",
                    f"{c.form_id} v{c.form_version}",
                    t(N_("năm {year}"), year=str(c.reporting_year)),
                    t(N_("hạn {deadline}"), deadline=day(c.deadline)),
                    _state(c, datetime.now(ZoneInfo(c.timezone)).date()),
                    t(N_("{n} cơ quan"), n=n),
                    c.name,
                )
            )
        )


def _state(c: CampaignRec, today: date) -> str:
    """What `campaign list` says of a campaign's status on `today` (its own time zone): an
    open campaign officials cannot see yet is "sắp mở (từ …)", one past its deadline (the
    deadline day counts whole) "đang mở, quá hạn N ngày" — "đang mở" alone misled both."""
    if c.status != "open":
        return t(_STATUS_WORDS[c.status])
    if c.opens_on is not None and c.opens_on > today:
        return t(N_("sắp mở (từ {opens})"), opens=day(c.opens_on))
    if today > c.deadline:
        return t(N_("đang mở, quá hạn {days} ngày"), days=(today - c.deadline).days)
    return t(_STATUS_WORDS["open"])
