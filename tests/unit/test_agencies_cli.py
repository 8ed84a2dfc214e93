"""`phieu agencies add` records the contact fields Phiếu prefills (1.3–1.6)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app as cli_app
from storage import Storage


def test_agencies_add_keeps_address_website_phone_and_email(tmp_path: Path) -> None:
    db = tmp_path / "phieu.db"
    result = CliRunner().invoke(
        cli_app,
        [
            "agencies", "add", "--code", "STTTT", "--name", "Sở Thông tin và Truyền thông",
            "--cohort", "so", "--address", " 01 Lê Lợi, TP. Quy Nhơn ",
            "--website", "sotttt.binhdinh.gov.vn", "--phone", "0256 3822 345",
            "--email", "sotttt@binhdinh.gov.vn", "--db", str(db),
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "address: 01 Lê Lợi, TP. Quy Nhơn" in result.output

    async def read() -> dict[str, str]:
        storage = await Storage.open(f"sqlite+aiosqlite:///{db}")
        try:
            async with storage.unit() as unit:
                rec = await unit.agency_by_code("STTTT")
                assert rec is not None
                return rec.known()
        finally:
            await storage.close()

    assert asyncio.run(read()) == {
        "agency.name": "Sở Thông tin và Truyền thông",
        "agency.address": "01 Lê Lợi, TP. Quy Nhơn",
        "agency.website": "sotttt.binhdinh.gov.vn",
        "agency.phone": "0256 3822 345",
        "agency.email": "sotttt@binhdinh.gov.vn",
    }


def test_agencies_add_without_contact_fields_still_works(tmp_path: Path) -> None:
    db = tmp_path / "phieu.db"
    result = CliRunner().invoke(
        cli_app,
        ["agencies", "add", "--code", "X", "--name", "Y", "--cohort", "so", "--db", str(db)],
    )
    assert result.exit_code == 0 and "address" not in result.output


@pytest.mark.parametrize(
    ("option", "value", "said"),
    [
        ("--email", "khong-a-cong", "ten@donvi.gov.vn"),
        ("--email", "lan@", "ten@donvi.gov.vn"),
        ("--phone", "0905.123.45", "10 chữ số"),
        ("--phone", "abc", "Ví dụ: 0256 3822 345"),
        ("--website", "mò.gov.vn/van-ban", "mof.gov.vn"),
    ],
)
def test_a_contact_field_officials_would_be_refused_is_refused_here(
    tmp_path: Path, option: str, value: str, said: str
) -> None:
    """Prefilled values must be answers Phiếu accepts: checked by the questions' parsers."""
    db = tmp_path / "phieu.db"
    args = ["agencies", "add", "--code", "X", "--name", "Thử", "--cohort", "so", "--db", str(db)]
    result = CliRunner().invoke(cli_app, [*args, option, value])
    assert result.exit_code == 2
    assert option in result.output and said in result.output
    listed = CliRunner().invoke(cli_app, ["agencies", "list", "--db", str(db)])
    assert "Thử" not in listed.output  # nothing half-added
