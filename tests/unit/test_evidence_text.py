"""Evidence read back as understood: links, documents, files with what their caption gave."""

from __future__ import annotations

import pytest

from flows.prompts import evidence_text

FILE = {"file_id": "BQAC1", "file_name": "kh-12.pdf", "kind": "document"}


@pytest.mark.parametrize(
    ("evidence", "lang", "shown"),
    [
        ("https://a.gov.vn/x", "vi", "https://a.gov.vn/x"),
        (
            {"number": "12/KH-UBND", "date": "2019-01-15", "link": "https://a.gov.vn/kh"},
            "vi",
            "số 12/KH-UBND, ngày 15/01/2019, https://a.gov.vn/kh",
        ),
        ({"number": "12/KH-UBND"}, "vi", "số 12/KH-UBND, chưa có link"),
        ({"file": FILE}, "vi", "kh-12.pdf"),
        (
            {"file": FILE, "number": "12/KH-UBND", "date": "2019-01-15"},
            "vi",
            "kh-12.pdf, số 12/KH-UBND, ngày 15/01/2019",
        ),
        (
            {"file": FILE, "files": [FILE, {"kind": "photo"}, {"kind": "photo"}]},
            "vi",
            "kh-12.pdf và 2 tệp khác",
        ),
        (
            {"file": FILE, "files": [FILE, {"kind": "photo"}]},
            "en",
            "kh-12.pdf and 1 more files",
        ),
        (
            {"file": {"kind": "photo"}, "link": "https://a.gov.vn/p"},
            "vi",
            "photo, https://a.gov.vn/p",
        ),
    ],
)
def test_evidence_is_shown_as_understood(evidence: object, lang: str, shown: str) -> None:
    assert evidence_text(evidence, lang) == shown
