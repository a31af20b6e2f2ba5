"""rulebot: a WhatsApp auto-reply rule engine that answers clients with contact cards."""

__version__ = "0.1.0"
