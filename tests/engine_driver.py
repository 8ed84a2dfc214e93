"""Drive the pure engine like a user would, keeping answers and state between turns."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

import yaml

from flows.engine import handle
from flows.loader import parse_form
from flows.machines import Status
from flows.model import Form
from flows.state import Answer, Context, ConversationState, Incoming, Reply, Step


def inline_form(body: str) -> Form:
    """A small form written inline, the way pyxform tests write forms as tables."""
    head = (
        "format: 1\nid: t\nversion: 1\ntitle: Phiếu thử\n"
        "source: {document: '1/QĐ', date: '01/01/2019', issuer: UBND}\n"
    )
    return parse_form(yaml.safe_load(head + body), "inline.yaml")


@dataclass
class Chat:
    form: Form
    ctx: Context = field(
        default_factory=lambda: Context(
            now=datetime(2026, 11, 22, 9, 0),
            agency_name="Sở Thông tin và Truyền thông",
            deadline=date(2026, 11, 26),
            user_name="Lan",
        )
    )
    answers: dict[str, Answer] = field(default_factory=dict)
    state: ConversationState = field(default_factory=ConversationState)
    last: Step | None = None
    events: list[str] = field(default_factory=list)

    def send_attachment(self, attachment: dict[str, Any]) -> str:
        replies = self.send(incoming=Incoming(attachment=attachment))
        return "\n".join(r.text for r in replies)

    def send(
        self,
        text: str | None = None,
        payload: str | None = None,
        incoming: Incoming | None = None,
    ) -> list[Reply]:
        incoming = incoming or Incoming(text, payload)
        step = handle(self.form, self.answers, self.state, incoming, self.ctx)
        for item, answer in step.changes.items():
            if answer is None:
                self.answers.pop(item, None)
            else:
                self.answers[item] = answer
        self.state = step.state
        self.last = step
        self.events.extend(e.name for e in step.events)
        if step.transition == "submit":
            self.ctx = replace(self.ctx, status=Status.SUBMITTED)
        return list(step.replies)

    def say(self, text: str) -> str:
        """Send text; the replies joined as one string, for `in` assertions."""
        return "\n".join(r.text for r in self.send(text))

    def press(self, label: str) -> str:
        """Press the button whose label contains `label` on the latest reply that has it."""
        assert self.last is not None
        for reply in reversed(self.last.replies):
            for choice in (*reply.choices, *reply.actions):
                if label in choice.label:
                    return "\n".join(r.text for r in self.send(payload=choice.payload))
        labels = [c.label for r in self.last.replies for c in (*r.choices, *r.actions)]
        raise AssertionError(f"no button {label!r}; have {labels}")

    def value(self, item: str) -> Any:
        a = self.answers.get(item)
        return None if a is None else a.value
