"""Who receives what a provider collects, where it is processed and for how long.

GDPR Art. 13(1)(e)-(f) and 13(2)(a) ask for the recipients, transfers outside
the EU/EEA with their safeguards, and how long data is kept; consent is only
informed if the visitor can read that before choosing (EDPB 05/2020). The
second layer and the cookie declaration show it per provider.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, get_args

from consentgate._exceptions import ConfigurationError
from consentgate._locales import country_codes
from consentgate._text import LocalizedText

__all__ = ["EEA", "Disclosure", "Role", "TransferBasis"]

#: What the vendor is to the site: it processes only on the site's instructions (processor),
#: decides the purposes together with the site (joint controller, as Meta for its pixel),
#: or uses the data for its own purposes (independent controller, as YouTube).
Role = Literal["processor", "joint-controller", "independent-controller"]

#: Why data may leave the EU/EEA (GDPR chapter V): the EU-US Data Privacy Framework
#: (an adequacy decision for certified US companies), another adequacy decision
#: (the UK, Switzerland, ...), standard contractual clauses, binding corporate
#: rules, or none at all.
TransferBasis = Literal["dpf", "adequacy", "scc", "bcr", "none"]

#: The EU member states and Iceland, Liechtenstein and Norway (ISO 3166-1 alpha-2).
EEA = frozenset(
    "AT BE BG CY CZ DE DK EE ES FI FR GR HR HU IE IT LT LU LV MT NL PL PT RO SE SI SK".split()
) | {"IS", "LI", "NO"}

_COUNTRY = re.compile(r"[A-Z]{2}")


@dataclass(frozen=True, kw_only=True)
class Disclosure:
    """What a visitor must be told about a provider's vendor before consenting.

    ``legal_entity`` and ``address`` are the vendor's own name and postal
    address (the company the site has its contract with, e.g. Google Ireland
    Limited); ``countries`` are ISO 3166-1 codes of where the data is processed;
    ``transfer_basis`` is required when one of them is outside the EU/EEA;
    ``retention`` says how long the vendor keeps the data, as text.
    """

    legal_entity: str
    address: str
    role: Role
    countries: tuple[str, ...]
    transfer_basis: tuple[TransferBasis, ...] = ()
    retention: LocalizedText = field(hash=False)

    @property
    def outside_eea(self) -> tuple[str, ...]:
        """The countries it names outside the EU/EEA, in its order."""
        return tuple(code for code in self.countries if code not in EEA)

    def validate(self, field_name: str) -> None:
        """Raise :class:`ConfigurationError` naming ``field_name.<attr>`` on bad values."""
        for name in ("legal_entity", "address"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise ConfigurationError(f"{field_name}.{name}", "must not be empty")
        if self.role not in get_args(Role):
            raise ConfigurationError(
                f"{field_name}.role",
                f"expected one of {', '.join(get_args(Role))}, got {self.role!r}",
            )
        self._validate_countries(field_name)
        self._validate_transfer_basis(field_name)
        retention = self.retention
        if not isinstance(retention, str | Mapping) or not (
            retention.strip()
            if isinstance(retention, str)
            else any(isinstance(v, str) and v.strip() for v in retention.values())
        ):
            raise ConfigurationError(
                f"{field_name}.retention",
                "say how long the vendor keeps the data, as a text or a mapping of "
                "language to text",
            )

    def _validate_countries(self, field_name: str) -> None:
        where = f"{field_name}.countries"
        if not isinstance(self.countries, tuple) or not self.countries:
            raise ConfigurationError(
                where,
                f"expected ISO 3166-1 country codes such as ('IE', 'US'), got {self.countries!r}",
            )
        known = country_codes()
        for index, code in enumerate(self.countries):
            if not isinstance(code, str) or not _COUNTRY.fullmatch(code):
                raise ConfigurationError(
                    f"{where}[{index}]", f"expected a country code such as 'IE', got {code!r}"
                )
            if code not in known:
                raise ConfigurationError(
                    f"{where}[{index}]",
                    f"{code!r} is not a country consentgate has names for in every language; "
                    f"known: {', '.join(sorted(known))}",
                )

    def _validate_transfer_basis(self, field_name: str) -> None:
        where = f"{field_name}.transfer_basis"
        bases = self.transfer_basis
        valid = get_args(TransferBasis)
        if not isinstance(bases, tuple) or any(basis not in valid for basis in bases):
            raise ConfigurationError(
                where, f"expected a tuple of {', '.join(valid)}, got {bases!r}"
            )
        outside = self.outside_eea
        if outside and not bases:
            raise ConfigurationError(
                where,
                f"{', '.join(outside)} {'is' if len(outside) == 1 else 'are'} outside the EU/EEA: "
                f"name the transfer's legal basis ({', '.join(valid)})",
            )
        if not outside and bases:
            raise ConfigurationError(
                where, "every country named is in the EU/EEA, so there is no transfer to name"
            )
        if "none" in bases and len(bases) > 1:
            raise ConfigurationError(where, "'none' cannot be combined with a basis")
