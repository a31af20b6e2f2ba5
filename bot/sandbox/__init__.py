"""A faithful local emulation of the provider, for the demo, the tests and the benchmarks.

It plays both of the provider's roles: it answers Send Contact as documented (including its
refusals, the 24 h window counted from the client message's own timestamp, and, on request,
the odd but accepting answers a real gateway gives), and it posts the provider's webhooks to
the bot, re-delivering one the bot failed to acknowledge on the provider's schedule.
"""

from bot.sandbox.answers import ODD_ANSWERS
from bot.sandbox.gateway import (
    FAULT_KINDS,
    SEND_CONTACT_PATH,
    FaultPlan,
    SandboxGateway,
    stable_from_id,
)
from bot.sandbox.webhooks import RETRY_DELAYS_S, WebhookDelivery

__all__ = [
    "FAULT_KINDS",
    "ODD_ANSWERS",
    "RETRY_DELAYS_S",
    "SEND_CONTACT_PATH",
    "FaultPlan",
    "SandboxGateway",
    "WebhookDelivery",
    "stable_from_id",
]
