"""`phieu worker --health-port` as a real process: /healthz answers, SIGTERM stops it."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import aiohttp

from tests.e2e.telegram_support import TOKEN
from tests.e2e.test_serve_process import free_port
from tests.fakes.telegram_api import FakeTelegram

ROOT = Path(__file__).resolve().parents[2]


async def test_worker_serves_healthz_on_its_health_port(tmp_path: Path) -> None:
    port = free_port()
    db = tmp_path / "worker.db"
    async with FakeTelegram(token=TOKEN, auto_webhook=False) as tg:
        env = {
            **{k: v for k, v in os.environ.items() if k != "DATABASE_URL"},
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_API_BASE": tg.base_url,
            "DATABASE_URL": f"sqlite+aiosqlite:///{db}",
            "HOST": "127.0.0.1",
            "PYTHONPATH": str(ROOT),
        }
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot.cli",
            "worker",
            "--health-port",
            str(port),
            env=env,
            cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            health = None
            async with aiohttp.ClientSession() as http:
                end = asyncio.get_running_loop().time() + 180  # a loaded CI machine is slow
                while health is None and asyncio.get_running_loop().time() < end:
                    try:
                        async with http.get(f"http://127.0.0.1:{port}/healthz") as resp:
                            health = (resp.status, await resp.json())
                    except aiohttp.ClientConnectionError:
                        await asyncio.sleep(0.1)
            assert health == (200, {"status": "ok", "database": "ok"})
            assert proc.returncode is None
            proc.send_signal(signal.SIGTERM)
            out, err = await asyncio.wait_for(proc.communicate(), timeout=30)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        assert proc.returncode == 0, err.decode()
        assert b"Traceback" not in out + err, err.decode()
    # 503 while the database is unreachable: tests/integration/test_db_faults.py (PostgreSQL
    # behind a proxy that is stopped), for this same app (worker_health_app).
