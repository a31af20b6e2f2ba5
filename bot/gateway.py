"""Outbound client for the provider's Send Contact call, and its reason codes.

The provider answers HTTP 200 with `status: OK | FAIL` and a numeric `reason`. One table,
REASONS, maps each reason to its error class, whether a retry can help, and what the user must
do: the outbox asks `err.retryable`, never compares codes. Every error keeps the gateway's raw
answer (`err.response`: HTTP status and body text) when there was one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

import aiohttp
import orjson
from pydantic import BaseModel, ConfigDict, ValidationError

from bot.errors import GatewayError, GatewayResponse

# -- answers without a reason: the request failed, or the answer is not the documented JSON --


class GatewayUnavailable(GatewayError):
    """The request never reached the gateway (no connection), or it answered HTTP 5xx or 429:
    nothing was accepted; retry."""

    retryable = True
    code = "unavailable"


class GatewayRejected(GatewayError):
    """HTTP 4xx other than 429: a wrong URL or a request the gateway will never take."""

    code = "http_rejected"


class GatewayRedirected(GatewayError):
    """The gateway answered with a redirect. Never followed: the body carries the API key, and
    a send re-posted elsewhere could go out twice. Permanent; `location` says where it pointed."""

    code = "redirected"

    def __init__(self, message: str, *, location: str | None, response: GatewayResponse) -> None:
        super().__init__(message, response=response)
        self.location = location


class GatewayUncertain(GatewayError):
    """The request was written but no usable answer came back (timeout, dropped connection):
    the gateway may have accepted it. `gateway.on_uncertain` says whether it is sent again."""

    retryable = True
    uncertain = True
    code = "uncertain"


class GatewayProtocolError(GatewayUncertain):
    """The gateway answered something that is not its documented response (a 200 that is not
    JSON, a status that is neither OK nor FAIL): it may have accepted the send."""

    code = "bad_response"


# -- `status: FAIL` with a reason: what each means, its code and retryable are in REASONS -----


class ReasonError(GatewayError):
    """The gateway refused the send with a numeric `reason` (REASONS says which class)."""


class AccountUnknown(ReasonError):
    """Reason 2: the gateway does not know our `from` account (or could not read the JSON)."""


class WrongApiKey(ReasonError):
    """Reason 3: the API key is wrong."""


class BadRecipient(ReasonError):
    """Reason 4: `to` is empty or malformed (or a group, which cannot receive contacts)."""


class EmptyField(ReasonError):
    """Reason 5: a mandatory field was empty."""


class WhatsAppTemporaryError(ReasonError):
    """Reason 6: WhatsApp failed on the provider's side; trying again can help."""


class WindowExpired(ReasonError):
    """Reason 7: over 24 h since the client's last message; only a template may be sent."""


class FirstContact(ReasonError):
    """Reason 8: first message to this number; only a template may be sent."""


class UnknownReason(ReasonError):
    """A FAIL reason the provider has not documented: treated as permanent, kept verbatim."""


@dataclass(frozen=True, slots=True)
class Reason:
    """One FAIL reason: the error raised, its machine name, whether a retry can help, and what
    it means in plain words (may name {account}, {to} and {reason})."""

    error: type[ReasonError]
    code: str
    retryable: bool
    explanation: str


# fmt: off
#: the provider's documented FAIL reasons (1 is OK)
REASONS: Final[Mapping[int, Reason]] = MappingProxyType({
    2: Reason(AccountUnknown, "account_unknown", False,
              "the gateway does not know account {account}: check `account` in the config"),
    3: Reason(WrongApiKey, "wrong_api_key", False,
              "the gateway refused the API key: check gateway.api_key (RULEBOT_API_KEY)"),
    4: Reason(BadRecipient, "bad_recipient", False,
              "the gateway refused the recipient {to}: not a valid private number"),
    5: Reason(EmptyField, "empty_field", False,
              "the gateway says a mandatory field was empty (contact name or phone)"),
    6: Reason(WhatsAppTemporaryError, "whatsapp_error", True,
              "WhatsApp failed on the gateway's side; will try again"),
    7: Reason(WindowExpired, "window_expired", False,
              "more than 24 h since {to} last wrote: only a template message may be sent now"),
    8: Reason(FirstContact, "first_contact", False,
              "{to} never wrote to us: the first message must be a template"),
})
#: any other reason (or none): permanent, so an unknown refusal is never retried forever
UNDOCUMENTED: Final = Reason(UnknownReason, "unknown_reason", False,
                             "the gateway refused the send with undocumented reason {reason}")
# fmt: on

# The table is the one place that says what a reason is: each class takes its code and
# retryable from its row.
for _row in (*REASONS.values(), UNDOCUMENTED):
    _row.error.code, _row.error.retryable = _row.code, _row.retryable


def error_for_reason(
    reason: int, *, account: str, to: str, response: GatewayResponse | None = None
) -> ReasonError:
    """The error for a FAIL `reason` code, with a message that says what to do."""
    row = REASONS.get(reason, UNDOCUMENTED)
    message = row.explanation.format(account=account, to=to, reason=reason)
    return row.error(message, reason=reason, response=response)


class SendContactResponse(BaseModel):
    """The provider's answer to Send Contact, read leniently: unknown fields are ignored (it may
    add some) and odd values are kept as they came, so an OK is never lost to a type."""

    model_config = ConfigDict(extra="ignore")

    status: Any = None
    unique: Any = None
    templateTimeLeft: Any = None
    reason: Any = None


@dataclass(frozen=True, slots=True)
class SentContact:
    """A send the gateway accepted (accepted, not delivered: see delivery statuses)."""

    #: the gateway's message id (None when its OK lacked one: statuses cannot be matched)
    unique: str | None
    #: minutes left of the client's 24 h window as the gateway sees it, if it said
    template_time_left_min: float | None
    #: what the OK lacked or held oddly, in plain words; the send counts as accepted all the same
    warnings: tuple[str, ...] = ()


def read_accepted(parsed: SendContactResponse) -> SentContact:
    """An OK answer as a SentContact: OK means accepted, whatever else the answer lacks."""
    warnings = []
    unique = parsed.unique
    if isinstance(unique, bool) or unique in (None, ""):
        warnings.append(
            "the gateway said OK without a message id (delivery statuses for this "
            "send cannot be matched)"
        )
        unique = None
    elif isinstance(unique, int | float):
        warnings.append(f"the gateway's message id was a number ({unique}), kept as text")
        unique = str(unique)
    elif not isinstance(unique, str):
        warnings.append("the gateway's message id was not text; ignored")
        unique = None
    minutes = _number(parsed.templateTimeLeft)
    if minutes is None and parsed.templateTimeLeft not in (None, "", False):
        warnings.append(
            f"templateTimeLeft {_excerpt(parsed.templateTimeLeft)} is not a number; ignored"
        )
    return SentContact(unique=unique, template_time_left_min=minutes, warnings=tuple(warnings))


def _number(value: Any) -> float | None:
    """A number sent as a number or as numeric text; None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
        return number if number == number and abs(number) != float("inf") else None
    return None


def _excerpt(value: Any, limit: int = 80) -> str:
    text = value if isinstance(value, str) else orjson.dumps(value).decode()
    return repr(text if len(text) <= limit else text[:limit] + "...")


class GatewayClient:
    """Send Contact over one shared aiohttp session with an explicit timeout."""

    def __init__(
        self,
        *,
        url: str,
        api_key: str,
        account: str,
        timeout_s: float,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self._url = url
        self._api_key = api_key
        self._account = account
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session = session
        self._owns_session = session is None

    async def __aenter__(self) -> GatewayClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the session if this client opened it."""
        if self._session is not None and self._owns_session:
            await self._session.close()
        self._session = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=64, ttl_dns_cache=300)
            )
            self._owns_session = True
        return self._session

    async def send_contact(
        self, *, to: str, contact: Mapping[str, str], reply_to: str | None
    ) -> SentContact:
        """Send a contact card to `to`, quoting `reply_to`. Raises a GatewayError subclass."""
        body: dict[str, str] = {"apiKey": self._api_key, "from": self._account, "to": to}
        body.update(contact)
        if reply_to:
            body["replyTo"] = reply_to
        try:
            async with self._http().post(
                self._url,
                data=orjson.dumps(body),
                headers={"Content-Type": "application/json"},
                timeout=self._timeout,
                allow_redirects=False,
            ) as response:
                raw = await response.read()
                status = response.status
                location = response.headers.get("Location")
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
            # No connection, so no request: certainly not sent.
            raise GatewayUnavailable(f"cannot reach the gateway: {type(exc).__name__}") from None
        except TimeoutError:
            raise GatewayUncertain(
                "the gateway did not answer in time; it may have accepted the send"
            ) from None
        except aiohttp.ClientError as exc:
            # The exception text may include the URL but never the body (where the key is).
            raise GatewayUncertain(
                f"the connection failed after the request was sent ({type(exc).__name__}); "
                "the gateway may have accepted the send"
            ) from None
        if 300 <= status < 400:
            raise GatewayRedirected(
                f"the gateway answered HTTP {status} redirecting to {location or '(no Location)'}"
                "; redirects are never followed (the request carries the API key): check "
                "gateway.url",
                location=location,
                response=_as_received(status, raw),
            )
        if status == 429 or status >= 500:
            raise GatewayUnavailable(
                f"the gateway answered HTTP {status}", response=_as_received(status, raw)
            )
        if status >= 400:
            raise GatewayRejected(
                f"the gateway answered HTTP {status}: check gateway.url",
                response=_as_received(status, raw),
            )
        return self._read_response(status, raw, to)

    def _read_response(self, status: int, raw: bytes, to: str) -> SentContact:
        try:
            parsed = SendContactResponse.model_validate(orjson.loads(raw))
        except (orjson.JSONDecodeError, ValidationError):
            raise GatewayProtocolError(
                "the gateway's answer is not JSON; it may have accepted the send",
                response=_as_received(status, raw),
            ) from None
        verdict = parsed.status.upper() if isinstance(parsed.status, str) else None
        if verdict == "OK":
            return read_accepted(parsed)
        if verdict != "FAIL":
            raise GatewayProtocolError(
                f"the gateway's answer has status {_excerpt(parsed.status)}, neither OK nor "
                "FAIL; it may have accepted the send",
                response=_as_received(status, raw),
            )
        reason = _number(parsed.reason)
        if reason is not None and reason == int(reason):
            return_reason = int(reason)
            raise error_for_reason(
                return_reason, account=self._account, to=to, response=_as_received(status, raw)
            )
        # A reason in words (or none): undocumented, so permanent, and kept as it came.
        said = "no reason" if parsed.reason in (None, "") else _excerpt(parsed.reason, 200)
        raise UnknownReason(
            f"the gateway refused the send with {said}", response=_as_received(status, raw)
        )


def _as_received(status: int, raw: bytes) -> GatewayResponse:
    """The answer as kept on an error (decoded only when an error is raised)."""
    return GatewayResponse(status=status, body=raw.decode("utf-8", errors="replace"))
