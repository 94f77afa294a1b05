"""Typed strategy parameters: defaults, ranges and descriptions a UI can render as a form."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from nija.core.errors import InvalidArgument

_TYPES = {"int": int, "float": float, "bool": bool, "str": str}


@dataclass(frozen=True)
class Parameter:
    """One tunable of a strategy.

    Parameters
    ----------
    type : {"int", "float", "bool", "str"}
        Value type; command-line and JSON strings are converted to it.
    default : object
        Used when the user sets nothing; must itself be valid.
    minimum, maximum : number, optional
        Inclusive range for ``int`` and ``float``.
    description : str
        One line shown next to the field.
    choices : tuple of str, optional
        Allowed values for ``str``.
    """

    type: str
    default: Any
    minimum: float | None = None
    maximum: float | None = None
    description: str = ""
    choices: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.type not in _TYPES:
            raise ValueError(f"parameter type must be one of {sorted(_TYPES)}, got {self.type!r}")

    def coerce(self, name: str, value: Any) -> Any:
        """Convert and check ``value``; raise :class:`InvalidArgument` naming ``name``."""
        kind = _TYPES[self.type]
        try:
            if kind is bool:
                if isinstance(value, str):
                    low = value.strip().lower()
                    if low not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
                        raise ValueError(value)
                    value = low in ("1", "true", "yes", "on")
                elif not isinstance(value, bool):
                    raise ValueError(value)
            elif kind is int:
                if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                    raise ValueError(value)
                value = int(value)
            elif kind is float:
                if isinstance(value, bool):
                    raise ValueError(value)
                value = float(value)
                if value != value:
                    raise ValueError(value)
            else:
                value = str(value)
        except (TypeError, ValueError):
            raise InvalidArgument(f"parameter {name} must be {self.type}, got {value!r}", field=name) from None
        if self.minimum is not None and value < self.minimum:
            raise InvalidArgument(f"parameter {name} must be >= {self.minimum}, got {value}", field=name)
        if self.maximum is not None and value > self.maximum:
            raise InvalidArgument(f"parameter {name} must be <= {self.maximum}, got {value}", field=name)
        if self.choices is not None and value not in self.choices:
            raise InvalidArgument(f"parameter {name} must be one of {list(self.choices)}, got {value!r}", field=name)
        return value

    def describe(self, name: str) -> dict[str, Any]:
        """JSON-ready description (what ``ListPlugins`` and ``nija plugins`` show)."""
        out: dict[str, Any] = {"name": name, "type": self.type, "default": self.default,
                               "description": self.description}
        if self.minimum is not None:
            out["minimum"] = self.minimum
        if self.maximum is not None:
            out["maximum"] = self.maximum
        if self.choices is not None:
            out["choices"] = list(self.choices)
        return out


def resolve(declared: Mapping[str, Parameter], given: Mapping[str, Any]) -> dict[str, Any]:
    """Declared defaults overlaid with ``given``; unknown names are an error."""
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise InvalidArgument(
            f"unknown parameter(s) {', '.join(unknown)}; known: {', '.join(sorted(declared)) or 'none'}",
            field=unknown[0])
    return {name: p.coerce(name, given[name] if name in given else p.default) for name, p in declared.items()}


def describe_parameters(cls: type) -> list[dict[str, Any]]:
    """The parameter form of any plugin class that declares ``parameters`` (else empty)."""
    declared = getattr(cls, "parameters", None) or {}
    return [p.describe(name) for name, p in declared.items() if isinstance(p, Parameter)]
