"""The baseline: a bare aiohttp handler that reads the body and answers 200, doing no work.

Started the same way as `rulebot serve` (a child process, same event loop choice).
"""

from __future__ import annotations

import sys

from aiohttp import web


async def handle(request: web.Request) -> web.Response:
    await request.read()
    return web.Response(body=b'{"ok": true}', content_type="application/json")


def main() -> None:
    app = web.Application()
    app.router.add_post("/webhook", handle)
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)


if __name__ == "__main__":
    main()
