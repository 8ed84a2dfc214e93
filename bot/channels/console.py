"""The console channel: `phieu chat` in a terminal, or a script of lines for demos and tests.

It goes through the same service, transaction and outbox as Telegram: each line is one
update, and what is printed is what the outbox delivers after the commit.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime

from bot.render import as_plain_text, reply_from_json
from bot.service import Phieu, Sender
from flows.i18n import N_, translate
from flows.loader import builtin_forms
from flows.state import Incoming
from storage.records import OutboxRec
from storage.repository import Storage
from storage.retry import DEFAULT_POLICY, RetryPolicy, retrying

log = logging.getLogger(__name__)

CHANNEL = "console"
DEMO_AGENCY = "DEMO-SO"
DEMO_FORMS = {"so": "binh-dinh-2019-so", "huyen": "binh-dinh-2019-huyen"}
QUIT = {"/quit", "/thoat", "/exit"}
# A person is waiting at the terminal: keep trying until the database is back.
CONSOLE_RETRY = DEFAULT_POLICY.forever()


DEMO_DUE = (11, 26)  # day and month the yearly report is due (QĐ 3871/QĐ-UBND: 26/11)


def demo_deadline(today: date) -> date:
    """The demo campaign's deadline: the next 26/11 that lies ahead (today included).

    Rule (a decision, documented in README): the reporting year is the year whose 26/11
    deadline comes next — on 26/11/2026 it is 2026, on 27/11/2026 and up to 26/11/2027 it
    is 2027. So a first run in December opens next year's report, not one already late.
    """
    month, day = DEMO_DUE
    due = date(today.year, month, day)
    return due if today <= due else date(today.year + 1, month, day)


@dataclass(frozen=True, slots=True)
class ConsoleUser:
    chat_id: str
    agency_code: str


async def ensure_demo(
    storage: Storage, today: date, agency_code: str | None, lang: str = "vi"
) -> ConsoleUser:
    """First run: a demo agency, an official and an open campaign, so nothing needs setup.

    The demo agency is made only on a database without agencies, the campaign only on one
    without any campaign (closed ones count); an agency whose officials were imported is
    answered as its first official. An unknown `agency_code`, or no `agency_code` on a
    database that has agencies (and no demo one), raises SystemExit saying so in `lang`."""
    code = agency_code or DEMO_AGENCY
    chat_id = f"console:{code}"
    async with storage.unit() as unit:
        agency = await unit.agency_by_code(code)
        if agency is None:
            if agency_code is not None:
                raise SystemExit(
                    translate(
                        lang,
                        N_("Không có cơ quan mã '{code}'. Xem: phieu agencies list"),
                        {"code": agency_code},
                    )
                )
            others = await unit.list_agencies()
            if others:
                # A database the Sở TTTT has set up: a demo agency would join its open
                # campaigns as a target (counted in progress, reminded, exported).
                example = sorted(a.code for a in others)[0]
                raise SystemExit(
                    translate(
                        lang,
                        N_(
                            "Cơ sở dữ liệu này đã có {n} cơ quan: chọn cơ quan trò chuyện, "
                            "ví dụ: phieu chat --agency {code} (danh sách: phieu agencies list)"
                        ),
                        {"n": len(others), "code": example},
                    )
                )
            agency = await unit.add_agency(code, "Sở Thông tin và Truyền thông (demo)", "so")
            log.info("created demo agency %s", code)
        if await unit.identity(CHANNEL, chat_id) is None:
            # An agency whose officials were imported is answered as its first official: a
            # made-up "Cán bộ đầu mối" would be one more official, reminded and invited.
            officials = await unit.people_of([agency.id], "official")
            user = (
                officials[0]
                if officials
                else await unit.add_user("Cán bộ đầu mối", agency.id, "official")
            )
            await unit.bind_identity(user.id, CHANNEL, chat_id, "console")
        forms = builtin_forms()
        form_ids = [f.id for f in forms.values() if not f.cohorts or agency.cohort in f.cohorts]
        # Only a database without any campaign gets the demo one: where the Sở TTTT has set
        # campaigns up, an official chatting in the console must never conjure a new campaign
        # (it would target every agency and be reminded like a real one).
        if (
            form_ids
            and not await unit.list_campaigns()
            and await unit.open_campaign_for_form_ids(form_ids) is None
        ):
            form = forms[DEMO_FORMS.get(agency.cohort, form_ids[0])]
            due = demo_deadline(today)
            await unit.add_campaign(
                form.id,
                form.version,
                f"Đánh giá mức độ ứng dụng CNTT năm {due.year}",
                due,
            )
            log.info("created demo campaign for %s", form.id)
    return ConsoleUser(chat_id, code)


async def ensure_user(storage: Storage, user_id: int, lang: str = "vi") -> ConsoleUser:
    """Chat as an existing person (a reviewer, an admin, an official): their console account
    is console:user:<id>, bound on first use. Raises SystemExit for an unknown id, said in
    `lang`."""
    chat_id = f"console:user:{user_id}"
    async with storage.unit() as unit:
        user = await unit.user(user_id)
        if user is None:
            raise SystemExit(
                translate(lang, N_("Không có người dùng số {id}."), {"id": str(user_id)})
            )
        if await unit.identity(CHANNEL, chat_id) is None:
            await unit.bind_identity(user.id, CHANNEL, chat_id, "console")
        agency = await unit.agency(user.agency_id) if user.agency_id else None
    return ConsoleUser(chat_id, agency.code if agency else "")


async def deliver(
    storage: Storage,
    chat_id: str,
    out: Callable[[str], None],
    now_factory: Callable[[], datetime],
    policy: RetryPolicy = CONSOLE_RETRY,
    on_retry: Callable[[int, BaseException], object] | None = None,
) -> int:
    """Send (print) what the outbox holds for this chat, marking each row sent once.

    Each row is claimed, printed, then marked sent in its own unit retried until the
    database takes it: a lost connection delays a line, never prints it twice.
    """
    sent = 0

    async def claim() -> list[OutboxRec]:
        # This chat's rows only: a notice for another console account (a reviewer) waits
        # for that account's session instead of being printed here.
        async with storage.unit() as unit:
            return await unit.claim_chat(CHANNEL, chat_id, now_factory(), 50)

    while True:
        rows = await retrying(claim, what="console claim", policy=policy, on_retry=on_retry)
        for row in rows:
            out(as_plain_text(reply_from_json(row.payload)))

            async def mark(outbox_id: int = row.id) -> None:
                async with storage.unit() as unit:
                    await unit.mark_sent(outbox_id, now_factory())

            await retrying(mark, what="console mark", policy=policy, on_retry=on_retry)
            sent += 1
        if not rows:
            return sent


class Reconnecting:
    """Tells the official, once per outage, that Phiếu is reconnecting to its database."""

    def __init__(self, out: Callable[[str], None], lang: str = "vi") -> None:
        self.out = out
        self.lang = lang
        self.shown = False

    def __call__(self, attempt: int, _: BaseException) -> None:
        if not self.shown:
            self.shown = True
            self.out(translate(self.lang, N_("⏳ Mất kết nối cơ sở dữ liệu, đang kết nối lại…")))

    def reset(self) -> None:
        self.shown = False


async def run_lines(
    phieu: Phieu,
    user: ConsoleUser,
    lines: Iterable[str],
    out: Callable[[str], None],
    echo: bool = False,
    comments: bool = False,
) -> None:
    """Feed lines as messages; blank lines are skipped, /quit stops.

    With `comments` (a `--script` file) a line starting with '#' is a comment; typed or
    piped, it is a message like any other ("#12" may be an answer).

    Each line carries an update id unique to this run, so a turn retried after a lost
    connection (whose commit may have happened) is applied once. Database trouble is
    retried until the database is back (phieu.retry is made unbounded), telling the
    official "đang kết nối lại…" instead of exiting.
    """
    sender = Sender(external_id=user.chat_id, display_name="console")
    session = uuid.uuid4().hex[:12]
    reconnecting = Reconnecting(out)
    phieu.retry = CONSOLE_RETRY
    phieu.on_retry = reconnecting
    turns = iter(range(1, 1 << 62))
    await _turn(phieu, user, sender, "/menu", out, f"{session}:{next(turns)}", reconnecting)
    for raw in lines:
        line = raw.rstrip("\n")
        if not line.strip() or (comments and line.lstrip().startswith("#")):
            continue
        if line.strip().lower() in QUIT:
            break
        if echo:
            out(f"> {line}")
        await _turn(phieu, user, sender, line, out, f"{session}:{next(turns)}", reconnecting)


async def _turn(
    phieu: Phieu,
    user: ConsoleUser,
    sender: Sender,
    line: str,
    out: Callable[[str], None],
    update_id: str,
    reconnecting: Reconnecting,
) -> None:
    reconnecting.reset()
    await phieu.handle(CHANNEL, user.chat_id, update_id, Incoming(text=line), sender)
    await deliver(phieu.storage, user.chat_id, out, phieu.clock, on_retry=reconnecting)
    out("")
