"""Local web pages for link-checker tests and the bench: each server counts what reaches it.

Routes: /ok (HTML with a Vietnamese title), /legacy (windows-1258), /kh.pdf, /missing (404),
/hop?to=URL (302), /loop-a ⇄ /loop-b, /chain/N (endless redirects), /slow (5 s), /hold
(0.15 s), /wait/MS (MS milliseconds, then like /ok),
/flaky (503 `flaky_left` times, then like /ok), /huge (~100 MB of HTML, no length);
anything else: like /ok.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from aiohttp import web
from aiohttp.test_utils import TestServer

TITLE = "Kế hoạch số 12/KH-UBND về ứng dụng CNTT năm 2025"


@dataclass
class Site:
    """A local server that counts what reaches it."""

    server: TestServer
    hits: list[str] = field(default_factory=list)
    in_flight: int = 0
    most_in_flight: int = 0
    huge_finished: bool = False
    close_connections: bool = False  # no keep-alive: every request a new connection
    flaky_left: int = 1  # /flaky answers 503 this many times, then like /ok

    @property
    def port(self) -> int:
        assert self.server.port is not None
        return self.server.port


def _pages(site: Site) -> web.Application:
    async def count(request: web.Request, handler):  # type: ignore[no-untyped-def]
        site.hits.append(request.path_qs)
        site.in_flight += 1
        site.most_in_flight = max(site.most_in_flight, site.in_flight)
        try:
            response = await handler(request)
            if site.close_connections:
                response.force_close()
            return response
        finally:
            site.in_flight -= 1

    async def ok(_: web.Request) -> web.Response:
        body = f"<html><head><title>\n  {TITLE} &amp; phụ lục </title></head><body>x</body>"
        return web.Response(text=body, content_type="text/html", charset="utf-8")

    async def legacy(_: web.Request) -> web.Response:
        # windows-1258 writes tones as combining marks: "Sở" is S, ơ (F5), hook above (D2).
        body = b'<meta charset="windows-1258"><title>B\xe1o c\xe1o S\xf5\xd2 TTTT</title>'
        return web.Response(body=body, content_type="text/html")

    async def pdf(_: web.Request) -> web.Response:
        return web.Response(body=b"%PDF-1.4" + b"0" * 5000, content_type="application/pdf")

    async def missing(_: web.Request) -> web.Response:
        return web.Response(
            status=404, text="<title>Không tìm thấy</title>", content_type="text/html"
        )

    async def hop(request: web.Request) -> web.Response:
        raise web.HTTPFound(request.query["to"])

    async def loop_a(_: web.Request) -> web.Response:
        raise web.HTTPMovedPermanently("/loop-b")

    async def loop_b(_: web.Request) -> web.Response:
        raise web.HTTPFound("/loop-a")

    async def chain(request: web.Request) -> web.Response:
        n = int(request.match_info["n"])
        raise web.HTTPFound(f"/chain/{n + 1}")

    async def slow(_: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.Response(text="<title>late</title>", content_type="text/html")

    async def flaky(request: web.Request) -> web.Response:
        if site.flaky_left > 0:
            site.flaky_left -= 1
            return web.Response(status=503, text="busy")
        return await ok(request)

    async def wait(request: web.Request) -> web.Response:
        await asyncio.sleep(int(request.match_info["ms"]) / 1000)
        return await ok(request)

    async def hold(_: web.Request) -> web.Response:
        await asyncio.sleep(0.15)
        return web.Response(text="<title>held</title>", content_type="text/html")

    async def huge(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/html"})
        await response.prepare(request)
        chunk = b"<p>" + b"x" * (64 * 1024) + b"</p>"
        for _ in range(1600):  # ~100 MB, far more than a check may read
            await response.write(chunk)
        site.huge_finished = True
        return response

    app = web.Application(middlewares=[web.middleware(count)])
    app.router.add_get("/ok", ok)
    app.router.add_get("/legacy", legacy)
    app.router.add_get("/kh.pdf", pdf)
    app.router.add_get("/missing", missing)
    app.router.add_get("/hop", hop)
    app.router.add_get("/loop-a", loop_a)
    app.router.add_get("/loop-b", loop_b)
    app.router.add_get("/chain/{n}", chain)
    app.router.add_get("/slow", slow)
    app.router.add_get("/hold", hold)
    app.router.add_get("/wait/{ms}", wait)
    app.router.add_get("/flaky", flaky)
    app.router.add_get("/huge", huge)
    app.router.add_get("/{tail:.*}", ok)  # the forbidden servers answer anything
    return app


async def start_site(host: str, port: int | None = None) -> Site:
    site = Site(server=None)  # type: ignore[arg-type]
    site.server = TestServer(_pages(site), host=host, port=port)
    await site.server.start_server()
    return site
