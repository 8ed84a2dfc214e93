"""`phieu serve` as a real process: registers its webhook, answers /healthz, stops on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

import aiohttp

from tests.e2e.telegram_support import TOKEN
from tests.fakes.telegram_api import FakeTelegram


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_serve_starts_answers_health_and_stops_gracefully(tmp_path: Path) -> None:
    port = free_port()
    async with FakeTelegram(token=TOKEN, auto_webhook=False) as tg:
        env = {
            **{k: v for k, v in os.environ.items() if k != "DATABASE_URL"},
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_API_BASE": tg.base_url,
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'serve.db'}",
            "PUBLIC_URL": "https://phieu.example.gov.vn",
            "WEBHOOK_SECRET": "s" * 32,
            "HOST": "127.0.0.1",
            "PORT": str(port),
        }
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot.cli",
            "serve",
            env=env,
            cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            call = await tg.wait_for_call("setWebhook", timeout=30)
            assert call.params["url"] == "https://phieu.example.gov.vn/telegram/webhook"
            assert call.params["secret_token"] == "s" * 32
            health = None
            async with aiohttp.ClientSession() as http:
                for _ in range(100):
                    try:
                        async with http.get(f"http://127.0.0.1:{port}/healthz") as resp:
                            health = (resp.status, await resp.json())
                            break
                    except aiohttp.ClientConnectionError:
                        await asyncio.sleep(0.1)
                assert health is not None and health[0] == 200
                assert health[1]["status"] == "ok"
                async with http.post(
                    f"http://127.0.0.1:{port}/telegram/webhook", json={"update_id": 1}
                ) as resp:
                    assert resp.status == 401
            proc.send_signal(signal.SIGTERM)
            out, err = await asyncio.wait_for(proc.communicate(), timeout=30)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        assert proc.returncode == 0, err.decode()
        assert b"Traceback" not in out + err
        assert TOKEN.encode() not in out + err  # the token never reaches the logs
        assert tg.violations == []
