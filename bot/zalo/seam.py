"""The seam between Phiếu and a Zalo platform: what a Zalo Official Account (OA API v3)
transport implements later, without touching the engine, the service or the outbox.

Today Phiếu talks to a bot from Zalo Bot Creator through the Zalo Bot API
(bot/zalo/client.py). A government deployment will likely want a verified Official Account
instead: the agency's official identity, templates, proactive messages within a quota.
Both meet Phiếu at two narrow points:

Inbound: a platform event becomes a `ZaloEvent` (bot/channels/zalo.py), and
`ZaloChannel.handle_event` does the rest (invitations, dedupe by event id, the engine in one
transaction, replies to the outbox). An OA adapter writes its own parser — events
`user_send_text`, `user_send_image`, `follow`, … under `sender.id`/`message.msg_id` — and its
own webhook check: `X-ZEvent-Signature` = "mac=" + sha256(app_id + raw_body + timestamp +
oa_secret_key), compared with hmac.compare_digest, instead of the Bot API's
`X-Bot-Api-Secret-Token`.

Outbound: the outbox worker hands each row to a `Transport` (bot/workers/outbox.py);
`ZaloTransport` renders the row to plain text (numbered choices, typed commands, ≤ 2,000
characters a message) and calls a `ZaloSender`, this module's protocol. An OA sender:

- POSTs `https://openapi.zalo.me/v3.0/oa/message/cs` with header `access_token`, body
  `{recipient: {user_id}, message: {text}}`;
- keeps the access token (~25 h) fresh with the single-use refresh token (~3 months):
  form-encoded POST to `https://oauth.zaloapp.com/v4/oa/access_token` with header
  `secret_key` and `app_id`, `grant_type=refresh_token`, `refresh_token`; the new refresh
  token must be stored at once (in the database: several processes share it). Error −216
  (token expired): refresh, then retry once;
- honours the reply window: up to 8 free replies within 48 h of the user's last message,
  each carrying that message's id (the outbox row of kind "reply" would carry it in its
  payload). Anything else — notices, reminders (kind "notice") — is a proactive message:
  verified OAs only, about 1,000 free a month, reset on the 1st. The sender checks the quota
  (`POST https://openapi.zalo.me/v2.0/oa/quota/message`) and raises `RetryAfter` until the
  1st when it is spent, or `PermanentError` when the OA may not send proactively.

The sender maps its errors to the outbox's three categories (TransientError, RetryAfter,
PermanentError); everything else — retries with backoff, the shared send rate, failed rows
kept for the operator — is the outbox's and stays as it is.
"""

from __future__ import annotations

from typing import Any, Protocol


class ZaloSender(Protocol):
    """Sends to one Zalo chat. Raises bot.zalo.client.ZaloTransient (try again later),
    ZaloPermanent (this message can never go) or ZaloUnauthorized (the credentials)."""

    async def send_message(self, chat_id: str, text: str) -> Any: ...

    async def send_photo(self, chat_id: str, photo: str, caption: str | None = None) -> Any: ...

    async def send_chat_action(self, chat_id: str, action: str = "typing") -> Any: ...
