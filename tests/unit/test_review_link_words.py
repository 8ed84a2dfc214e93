"""A reviewer's card says why an evidence link does not open in words, in the reviewer's
language — never the checker's stored code ("🔗 Link không mở được: dns" was shown to a
newcomer reviewing on the console)."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from bot.review.links import _view
from flows.review import link_line

URL = "https://stttt.binhdinh.gov.vn/van-ban"


def _rec(error: str | None, status: int | None = None) -> SimpleNamespace:
    return SimpleNamespace(
        status=status,
        final_url=None,
        title=None,
        content_type=None,
        size=None,
        elapsed_ms=40,
        error=error,
        checked_at=datetime(2026, 11, 30, 8, 0, tzinfo=UTC),
    )


@pytest.mark.parametrize(
    ("error", "vi", "en"),
    [
        ("dns", "không tìm thấy tên miền", "domain name not found"),
        ("timeout", "máy chủ không trả lời kịp", None),
        ("forbidden_address:loopback", "địa chỉ nội bộ, không công khai", None),
        ("tls", "chứng chỉ bảo mật (HTTPS) không hợp lệ", None),
        ("something_new", "lỗi khi kiểm tra", None),
    ],
)
def test_a_failed_check_is_said_in_words(error: str, vi: str, en: str | None) -> None:
    view = _view(URL, _rec(error))
    assert not view.answered
    said = link_line("vi", view)
    assert said == f"🔗 Link không mở được: {vi}"
    assert error.split(":")[0] not in said and "loopback" not in said
    english = link_line("en", view)
    assert vi not in english
    if en is not None:
        assert en in english


def test_a_link_that_answered_keeps_its_status() -> None:
    view = _view(URL, _rec(None, 200))
    assert view.answered and view.error is None
    assert "200" in link_line("vi", view) and "không mở được" not in link_line("vi", view)
