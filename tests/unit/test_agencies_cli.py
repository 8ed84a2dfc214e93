"""`phieu agencies add` records the contact fields Phiếu prefills (1.3–1.6)."""

from __future__ import annotations

import asyncio
from pathlib import Path

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
