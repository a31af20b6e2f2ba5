"""A contact card as the gateway's Send Contact call takes it, and phone-number reading."""

from __future__ import annotations

from dataclasses import dataclass

import phonenumbers

_GATEWAY_NAMES = (
    ("name", "contact_name"),
    ("phone", "contact_phone"),
    ("email", "contact_email"),
    ("birthday", "contact_birthday"),
    ("street", "address_street"),
    ("city", "address_city"),
    ("country", "address_country"),
    ("website", "website"),
)


@dataclass(frozen=True)
class Card:
    """A contact the bot sends: `phone` in international digits, e.g. "972501234567"."""

    key: str
    name: str
    phone: str
    email: str | None = None
    birthday: str | None = None
    street: str | None = None
    city: str | None = None
    country: str | None = None
    website: str | None = None

    def gateway_fields(self) -> dict[str, str]:
        """The Send Contact fields that are set, under the gateway's names."""
        fields: dict[str, str] = {}
        for attribute, gateway_name in _GATEWAY_NAMES:
            value = getattr(self, attribute)
            if value:
                fields[gateway_name] = value
        return fields


def international_digits(text: str, region: str) -> tuple[str, bool]:
    """('972501234567', valid) for a phone typed locally or internationally.

    Raises ValueError(message, hint) when the text cannot be a phone number at all;
    `valid` is False when it could be one but no such number is allocated (likely a typo).
    """
    try:
        number = phonenumbers.parse(text, region.upper())
    except phonenumbers.NumberParseException:
        raise ValueError(
            f"'{text}' is not a phone number",
            f"write it as you would dial it in {region.upper()}, or with +country code",
        ) from None
    if not phonenumbers.is_possible_number(number):
        raise ValueError(
            f"'{text}' cannot be a phone number (wrong length)",
            "check the digits; international numbers start with +",
        )
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return e164.lstrip("+"), phonenumbers.is_valid_number(number)
