"""Assembly of a running bot: store, rules, gateway client, worker and webhook server."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from bot.admin import add_admin_routes
from bot.config import Config
from bot.errors import ConfigError
from bot.gateway import GatewayClient
from bot.logs import RateLimitedLog, add_secrets
from bot.ops import add_ops_routes
from bot.pipeline import Pipeline
from bot.rulebook import RuleBook
from bot.store import Store, open_store
from bot.webhook import CONFIG_KEY, STORE_KEY, WebhookHandler

log = logging.getLogger("rulebot.service")

#: how long a shutdown may take to finish the sends in flight
SHUTDOWN_GRACE_S = 15.0
#: an idle connection, or one that never completes its request headers, is closed after this
IDLE_TIMEOUT_S = 15.0
#: after answering early (401, 408, 413...), unread body bytes are drained this long, no more
LINGER_S = 2.0
#: tracebacks of unexpected errors: one per kind of error and route a minute
_unexpected = RateLimitedLog(log)


class Service:
    """A running bot. `Service.start(config)` returns once the webhook accepts requests."""

    def __init__(
        self,
        *,
        config: Config,
        store: Store,
        rulebook: RuleBook,
        gateway: GatewayClient,
        worker: Pipeline,
        runner: web.AppRunner,
        port: int,
        stop: asyncio.Event,
        tasks: list[asyncio.Task[None]],
    ) -> None:
        self.config = config
        self.store = store
        self.rulebook = rulebook
        self.gateway = gateway
        self.worker = worker
        self.port = port
        self._runner = runner
        self._stop = stop
        self._tasks = tasks

    @property
    def url(self) -> str:
        """Base URL of the webhook server."""
        return f"http://{self.config.server.host}:{self.port}"

    @property
    def webhook_url(self) -> str:
        """The URL to give the gateway (token included)."""
        return f"{self.url}/webhook?token={self.config.server.token() or ''}"

    @classmethod
    async def start(
        cls,
        config: Config,
        *,
        clock: Callable[[], float] = time.time,
        run_worker: bool = True,
        watch_rules: bool = True,
    ) -> Service:
        """Open everything and start serving. Invalid rules or config refuse to start."""
        if not config.server.token():
            raise ConfigError(
                "server.webhook_token is not set: give it as ${RULEBOT_WEBHOOK_TOKEN} so only "
                "the gateway can post to the webhook"
            )
        api_key = config.gateway.secret()
        if not api_key:
            raise ConfigError("gateway.api_key is not set: give it as ${RULEBOT_API_KEY}")
        admin_token = config.admin_token.get_secret_value() if config.admin_token else None
        add_secrets(api_key, config.server.token(), admin_token)  # never written to a log
        rulebook = RuleBook(config.rules, default_region=config.default_region)
        rules = rulebook.load()  # raises RuleError: the server refuses to start on bad rules
        log.info("rules loaded: %d rules, version %s", len(rules.rule_names), rules.version)
        store = await open_store(config.store)
        gateway = GatewayClient(
            url=config.gateway.url,
            api_key=api_key,
            account=config.account,
            timeout_s=config.gateway.timeout_s,
        )
        worker = Pipeline(
            store=store, rulebook=rulebook, gateway=gateway, config=config, clock=clock
        )
        app = create_app(
            config=config,
            store=store,
            on_message=worker.notify_inbox,
            clock=clock,
            rulebook=rulebook,
        )
        # Exposed directly, aiohttp would keep idle connections for long: bound them. The
        # keep-alive timer also runs from the connection's start, so it bounds slow headers.
        runner = web.AppRunner(
            app,
            access_log=None,
            keepalive_timeout=IDLE_TIMEOUT_S,
            lingering_time=LINGER_S,
            shutdown_timeout=5,
        )
        await runner.setup()
        site = web.TCPSite(runner, config.server.host, config.server.port)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            await gateway.close()
            await store.close()
            raise ConfigError(
                f"cannot listen on {config.server.host}:{config.server.port}: {exc.strerror}"
            ) from None
        port = runner.addresses[0][1]
        stop = asyncio.Event()
        tasks = []
        if run_worker:
            tasks.append(asyncio.create_task(worker.run(stop), name="worker"))
        if watch_rules:
            tasks.append(asyncio.create_task(rulebook.watch(stop), name="rules"))
        service = cls(
            config=config,
            store=store,
            rulebook=rulebook,
            gateway=gateway,
            worker=worker,
            runner=runner,
            port=port,
            stop=stop,
            tasks=tasks,
        )
        log.info("listening on %s (POST /webhook)", service.url)
        return service

    async def stop(self) -> None:
        """Graceful: stop accepting, finish sends in flight, flush the store, close."""
        await self._runner.shutdown()
        self._stop.set()
        if self._tasks:
            _done, pending = await asyncio.wait(self._tasks, timeout=SHUTDOWN_GRACE_S)
            for task in pending:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._runner.cleanup()
        await self.gateway.close()
        await self.store.close()


@web.middleware
async def never_500(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Unexpected errors are answered 503 (the gateway retries) and logged with their traceback,
    once a minute per kind of error: a client repeating a request that trips a bug must not
    write megabytes of log a second."""
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except Exception as exc:
        resource = request.match_info.route.resource
        route = resource.canonical if resource is not None else "?"
        unwritten = _unexpected.due(f"{type(exc).__name__} {request.method} {route}")
        if unwritten is not None:
            log.exception(
                "unexpected error handling %s %s (%d more like it not logged)",
                request.method,
                route,
                unwritten,
            )
        return web.json_response({"ok": False, "error": "internal error, retry later"}, status=503)


def create_app(
    *,
    config: Config,
    store: Store,
    on_message: Callable[[], None],
    clock: Callable[[], float] = time.time,
    rulebook: RuleBook | None = None,
) -> web.Application:
    """The bot's aiohttp application: the webhook, the ops probes and (if enabled) /admin."""
    app = web.Application(client_max_size=config.server.max_body_bytes, middlewares=[never_500])
    app[STORE_KEY] = store
    app[CONFIG_KEY] = config
    handler = WebhookHandler(config=config, store=store, on_message=on_message, clock=clock)
    app.router.add_post("/webhook", handler.handle)
    add_ops_routes(app, store=store, rulebook=rulebook, clock=clock)
    if config.admin_token is not None and rulebook is not None:
        add_admin_routes(app, config=config, store=store, rulebook=rulebook, clock=clock)
    return app


def stop_on_signals() -> asyncio.Event:
    """An event set by SIGTERM or SIGINT. Call it before announcing anything: a signal that
    arrives between the announcement and the handler would otherwise kill the process."""
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stopping.set)
    return stopping


async def serve(config: Config) -> None:
    """Run until SIGTERM or SIGINT, then shut down gracefully."""
    stopping = stop_on_signals()
    service = await Service.start(config)
    await stopping.wait()
    log.info("shutting down: finishing sends in flight")
    await service.stop()
    log.info("stopped")
