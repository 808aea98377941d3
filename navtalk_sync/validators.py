"""The attrs validators every settings object shares; each raises ``ConfigError``.

A field's error names the keyword the user wrote: the flat name in its ``flat`` metadata when
it has one (``connect_timeout``, not ``Timeouts.connect``), else the field's own name.
"""

from __future__ import annotations

from typing import Any, Callable

import attrs

from .errors import ConfigError
from .timeouts import check_seconds

__all__ = [
    "flag",
    "int_between",
    "label",
    "optional",
    "positive_int",
    "seconds",
]

Validator = Callable[[Any, "attrs.Attribute[Any]", Any], None]


def label(attribute: attrs.Attribute[Any]) -> str:
    """The name a user knows the setting by."""
    return str(attribute.metadata.get("flat", attribute.name))


def seconds(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    check_seconds(value, label(attribute), error=ConfigError)


def flag(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, bool):  # "no" and 0 are not False: say so rather than guess
        raise ConfigError(f"{label(attribute)} must be True or False, got {value!r}")


def positive_int(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{label(attribute)} must be a positive integer, got {value!r}")


def int_between(lowest: int, highest: int, what: str = "an integer") -> Validator:
    """An integer from ``lowest`` to ``highest``; ``what`` says what it counts."""

    def check(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, int):
            ok = False
        else:
            ok = lowest <= value <= highest
        if not ok:
            raise ConfigError(
                f"{label(attribute)} must be {what} from {lowest} to {highest}, got {value!r}"
            )

    return check


def optional(validator: Validator) -> Validator:
    """``validator``, with None also accepted."""

    def check(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value is not None:
            validator(instance, attribute, value)

    return check
