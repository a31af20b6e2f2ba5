"""Settings: a pydantic model of `config.yaml`, `${ENV_VAR}` interpolation, load_config().

Secrets (the API key, the webhook token, the admin token) are normally given as
`${RULEBOT_API_KEY}`-style references, or as `*_file` paths, so they never live in the repo.
"""

from __future__ import annotations

import ipaddress
import os
import re
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import phonenumbers
import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from bot.errors import ConfigError

_ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
#: the provider's real Send Contact endpoint (99 Digital WhatsApp API v2)
DEFAULT_GATEWAY_URL = "https://api.99digital.co.il/whatsapp/v2/sendContact"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GatewaySettings(_Section):
    """Where and how we call Send Contact."""

    url: str = DEFAULT_GATEWAY_URL
    api_key: SecretStr | None = None
    api_key_file: Path | None = None
    timeout_s: float = Field(default=10.0, gt=0, le=120)
    #: total tries for a retryable failure (reason 6, network, 5xx, 429) before giving up
    max_attempts: int = Field(default=8, ge=1, le=100)
    backoff_base_s: float = Field(default=1.0, gt=0)
    backoff_max_s: float = Field(default=300.0, gt=0)
    #: concurrent Send Contact requests
    concurrency: int = Field(default=16, ge=1, le=256)
    #: a send whose outcome is unknown (timeout or dropped connection after the request was
    #: written, an answer that is not JSON, a crash mid-send): `resend` tries again (the client
    #: may get the card twice; counted as uncertain), `skip` never sends it again
    on_uncertain: Literal["resend", "skip"] = "resend"

    @field_validator("url")
    @classmethod
    def _url_is_https(cls, value: str) -> str:
        url = urlsplit(value)
        if url.scheme not in ("https", "http") or not url.hostname:
            raise ValueError("must be the gateway's https:// URL")
        if url.scheme == "http" and not _is_loopback(url.hostname):
            # The request carries the API key: plain http only to this machine (a local sandbox).
            raise ValueError("must be https:// (plain http:// only for a loopback address)")
        return value

    def secret(self) -> str | None:
        """The API key, read from `api_key` or the file `api_key_file`."""
        if self.api_key is not None:
            return self.api_key.get_secret_value()
        if self.api_key_file is not None:
            return _read_secret_file(self.api_key_file, "gateway.api_key_file")
        return None


class ServerSettings(_Section):
    """The webhook server."""

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    webhook_token: SecretStr | None = None
    webhook_token_file: Path | None = None
    #: largest webhook body accepted (413 above it)
    max_body_bytes: int = Field(default=64 * 1024, ge=1024, le=16 * 1024 * 1024)
    #: optional allow-list of gateway source addresses (exact IPs); empty = any
    allowed_sources: tuple[str, ...] = ()
    #: reverse proxies (addresses or networks) whose X-Forwarded-For / X-Forwarded-Proto are
    #: believed: the dashboard's sign-in then counts guesses per real client address, and
    #: marks its cookies Secure when the proxy says the browser used https
    trusted_proxies: tuple[str, ...] = ()

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_are_networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(
                    f"'{entry}' is not an IP address or network (e.g. 127.0.0.1 or 10.0.0.0/8)"
                ) from None
        return value

    def token(self) -> str | None:
        """The webhook token, from `webhook_token` or the file `webhook_token_file`."""
        if self.webhook_token is not None:
            return self.webhook_token.get_secret_value()
        if self.webhook_token_file is not None:
            return _read_secret_file(self.webhook_token_file, "server.webhook_token_file")
        return None


class DeliverySettings(_Section):
    """The gateway's rules we enforce on our side, and housekeeping."""

    #: loop protection: automatic replies to one client per hour
    max_replies_per_hour: int = Field(default=5, ge=1)
    #: pause automatic replies to a client after a person answered them from our account
    handoff_pause_h: float = Field(default=12.0, ge=0)
    #: rows older than this are pruned (never rows still in flight)
    #: (at least 2: the gateway retries a webhook for up to 24 h and we dedupe on stored ids)
    retention_days: float = Field(default=30.0, ge=2)
    #: how often the worker looks for work when not woken by a webhook; an idle worker looks
    #: less and less often, down to once every ten intervals (bot/polling.py)
    poll_interval_s: float = Field(default=0.5, gt=0, le=60)
    #: a claim on work (a client's messages, a send) lapses after this; another worker takes over
    lease_s: float = Field(default=60.0, gt=0)
    #: a client's messages waiting to be decided, at most: more are acknowledged and recorded
    #: as dropped, never stored (a flood from one client must not fill the inbox)
    max_pending_per_client: int = Field(default=1000, ge=1)
    #: bytes of one client's messages stored per day (UTC), at most: more are dropped the same way
    max_bytes_per_client_day: int = Field(default=16 * 1024 * 1024, ge=1024)


class Config(_Section):
    """The whole configuration file."""

    #: our WhatsApp number, sent as `from` (international digits)
    account: str = "972500000000"
    #: region for local numbers in rule files (050-123-4567 is read as Israeli)
    default_region: str = "IL"
    gateway: GatewaySettings = GatewaySettings()
    server: ServerSettings = ServerSettings()
    #: a rule file or a folder of *.yaml
    rules: Path = Path("rules/example.yaml")
    #: SQLite file path, or a postgresql:// URL
    store: str = "rulebot.db"
    delivery: DeliverySettings = DeliverySettings()
    #: enables the /admin dashboard; None = off
    admin_token: SecretStr | None = None
    log_format: Literal["json", "text"] = "json"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @field_validator("account")
    @classmethod
    def _account_is_digits(cls, value: str) -> str:
        digits = value.lstrip("+").replace(" ", "").replace("-", "")
        # International digits start with a country code, never 0 (0501234567 is a local number).
        if not digits.isdigit() or not 8 <= len(digits) <= 15 or digits[0] == "0":
            raise ValueError(
                "must be our WhatsApp number in international digits with the country code, "
                "e.g. 972501234567 (not a local number such as 0501234567)"
            )
        parsed = _parsed_or_none("+" + digits)
        if parsed is None or not phonenumbers.is_possible_number(parsed):
            raise ValueError(
                "is not a possible international number: give the country code, then the "
                "number without its leading 0, e.g. 972501234567"
            )
        return digits

    @field_validator("default_region")
    @classmethod
    def _region_is_code(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z]{2}", value):
            raise ValueError("must be a two-letter region code such as IL")
        return value.upper()


def _parsed_or_none(number: str) -> phonenumbers.PhoneNumber | None:
    try:
        return phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return None


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def load_config(path: str | Path | None, *, environ: dict[str, str] | None = None) -> Config:
    """Read a config file (None: the embedded defaults). Relative paths resolve from its folder."""
    env = os.environ if environ is None else environ
    if path is None:
        return Config()
    config_path = Path(path)
    try:
        text = config_path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config {config_path}: {exc.strerror}") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{config_path}:{mark.line + 1}:{mark.column + 1}" if mark else str(config_path)
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(f"{where}: {problem}") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{config_path}: the config must be a mapping of settings")
    raw = _interpolate(raw, env, "")
    try:
        config = Config.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{config_path}: {_first_problem(exc)}") from None
    base = config_path.parent
    return config.model_copy(
        update={
            "rules": config.rules if config.rules.is_absolute() else base / config.rules,
            "store": _resolve_store(config.store, base),
        }
    )


def _resolve_store(store: str, base: Path) -> str:
    if "://" in store or store == ":memory:" or Path(store).is_absolute():
        return store
    return str(base / store)


def _interpolate(value: Any, env: os._Environ[str] | dict[str, str], where: str) -> Any:
    if isinstance(value, str):

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in env:
                raise ConfigError(f"{where or 'config'}: environment variable {name} is not set")
            return env[name]

        return _ENV_REFERENCE.sub(replace, value)
    if isinstance(value, dict):
        return {
            key: _interpolate(item, env, f"{where}.{key}" if where else str(key))
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_interpolate(item, env, where) for item in value]
    return value


def _first_problem(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"]) or "config"
    if error["type"] == "extra_forbidden":
        return f"unknown setting '{where}'"
    # The message never echoes the input value: it may be a secret.
    return f"{where}: {error['msg']}"


def _read_secret_file(path: Path, setting: str) -> str:
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"{setting}: cannot read {path}: {exc.strerror}") from None
