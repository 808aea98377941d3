"""Python callables as function tools (protocol.md#tool-definition): schema, registry, arguments.

``make_tool(fn)`` reads a function's name, docstring and type hints and builds the
OpenAI-Realtime function schema the server is told about, plus the converters that turn the
model's JSON arguments back into the Python values the function was declared with. Supported
parameter types: ``str``, ``int``, ``float``, ``bool``, ``Literal[...]``, ``Enum`` subclasses,
``list[...]`` (and ``tuple[X, ...]``), ``dict``, ``Optional[...]`` / ``X | None``, and
``Annotated[X, "description"]``. A parameter with a default, or an optional one, is not
required. ``parameters=`` replaces the derived schema (the arguments then go to the function
as they came). Running the calls is ``tool_calls.py``'s concern.
"""

from __future__ import annotations

import enum
import inspect
import json
import math
import re
import types
import typing
from typing import Any, Callable, Iterator, Literal, Mapping

import attrs

from .config import TOOL_NAME
from .errors import InvalidArgument
from .timeouts import check_seconds

__all__ = ["Tool", "ToolRegistry", "BadArguments", "make_tool", "DEFAULT_TOOL_TIMEOUT"]

#: Seconds a tool may run before the model is told it timed out.
DEFAULT_TOOL_TIMEOUT = 30.0

_MISSING = object()

Converter = Callable[[Any], Any]


class BadArguments(ValueError):
    """The model's arguments do not fit the tool's parameters (the text says how)."""


@attrs.frozen(repr=False)
class Tool:
    """One registered tool: the function, what the model is told, and how it is run."""

    name: str
    description: str
    parameters: Mapping[str, Any]
    function: Callable[..., Any]
    timeout: float = DEFAULT_TOOL_TIMEOUT
    #: send ``response.create`` after the result, so the avatar speaks about it
    auto_reply: bool = True
    #: parameter name -> converter from JSON; None when the schema was given explicitly
    _converters: Mapping[str, Converter] | None = attrs.field(default=None, alias="converters")
    _optional: frozenset[str] = attrs.field(default=frozenset(), alias="optional")

    def schema(self) -> dict[str, Any]:
        """The flat OpenAI-Realtime function tool (protocol.md#tool-definition)."""
        return {
            "type": "function",
            "name": self.name,
            "description": self.description,
            "parameters": dict(self.parameters),
        }

    def arguments(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        """The model's JSON arguments as keyword arguments for the function.

        Raises ``BadArguments`` for a missing required argument, an unknown one, or a value
        of the wrong type.
        """
        if self._converters is None:
            return dict(raw)
        unknown = sorted(set(raw) - set(self._converters))
        if unknown:
            raise BadArguments(f"unknown argument(s) {', '.join(unknown)}")
        kwargs = {}
        for name, convert in self._converters.items():
            if name in raw:
                try:
                    kwargs[name] = convert(raw[name])
                except BadArguments as exc:
                    raise BadArguments(f"argument {name!r}: {exc}") from None
            elif name in self._optional:
                kwargs[name] = None  # Optional without a default: the model may leave it out
        missing = sorted(set(self.parameters.get("required", ())) - set(kwargs))
        if missing:
            raise BadArguments(f"missing required argument(s) {', '.join(missing)}")
        return kwargs

    def __repr__(self) -> str:
        return f"<Tool {self.name!r} timeout={self.timeout:g} auto_reply={self.auto_reply}>"


def make_tool(
    function: Callable[..., Any],
    name: str | None = None,
    description: str | None = None,
    parameters: Mapping[str, Any] | None = None,
    timeout: float = DEFAULT_TOOL_TIMEOUT,
    auto_reply: bool = True,
) -> Tool:
    """A ``Tool`` from a callable; raises ``InvalidArgument`` for what cannot be described."""
    if not callable(function):
        raise InvalidArgument(f"a tool must be callable, got {function!r}")
    name = getattr(function, "__name__", None) if name is None else name
    if not isinstance(name, str) or not TOOL_NAME.match(name):
        raise InvalidArgument(
            f"a tool name is 1-64 letters, digits, '_' or '-', got {name!r} (pass name=...)"
        )
    if inspect.iscoroutinefunction(function) or inspect.isasyncgenfunction(function):
        raise InvalidArgument(
            f"tool {name!r} is an async function; tools run on threads: pass a plain function "
            "(it may call asyncio.run(...) itself)"
        )
    if inspect.isgeneratorfunction(function):
        raise InvalidArgument(f"tool {name!r} is a generator function; a tool returns its result")
    seconds = check_seconds(timeout)
    if not isinstance(auto_reply, bool):
        raise InvalidArgument(f"auto_reply must be True or False, got {auto_reply!r}")
    summary, argument_docs = _parse_docstring(inspect.getdoc(function) or "")
    if description is None:
        description = summary
    if not isinstance(description, str):
        raise InvalidArgument(f"description must be a string, got {description!r}")
    if parameters is not None:
        if (
            not isinstance(parameters, Mapping)
            or parameters.get("type", "object") != "object"
            or not isinstance(parameters.get("properties", {}), Mapping)
        ):
            raise InvalidArgument(
                f"parameters must be a JSON-Schema object ({{'type': 'object', 'properties': "
                f"{{...}}}}), got {parameters!r}"
            )
        try:
            json.dumps(parameters, allow_nan=False)
        except (TypeError, ValueError, RecursionError) as exc:
            raise InvalidArgument(f"parameters must be JSON: {exc}") from None
        return Tool(name, description, dict(parameters), function, seconds, auto_reply)
    schema, converters, optional = _parameters_from_signature(function, name, argument_docs)
    return Tool(name, description, schema, function, seconds, auto_reply,
                converters=converters, optional=frozenset(optional))  # fmt: skip


class ToolRegistry:
    """The tools of one client, by name, in registration order."""

    def __init__(self) -> None:
        self._tools: dict[str, Tool] = {}

    def add(self, tool: Tool) -> Tool:
        if tool.name in self._tools:
            raise InvalidArgument(f"a tool named {tool.name!r} is already registered")
        self._tools[tool.name] = tool
        return tool

    def get(self, name: str | None) -> Tool | None:
        return self._tools.get(name) if name is not None else None

    def schemas(self) -> list[dict[str, Any]]:
        return [tool.schema() for tool in self._tools.values()]

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def __iter__(self) -> Iterator[Tool]:
        return iter(list(self._tools.values()))

    def __len__(self) -> int:
        return len(self._tools)


# --------------------------------------------------------------------------- signatures


def _type_hints(function: Callable[..., Any], tool: str) -> dict[str, Any]:
    """The function's annotations, evaluated; InvalidArgument for one that cannot be read."""
    try:
        hints: dict[str, Any] = typing.get_type_hints(function, include_extras=True)
        return hints
    except Exception as exc:  # an annotation that is not an expression: "1+", "typing.Nope"...
        unreadable = exc
    # Python 3.10 refuses the whole function for one annotation that reads but is not a type
    # ("[int]"), where later versions return it; read them one by one so that _describe can
    # name the parameter at fault.
    namespace = getattr(function, "__globals__", {})
    hints = {}
    for name, annotation in getattr(function, "__annotations__", {}).items():
        try:
            for _ in range(2):  # a string annotation under `from __future__ import annotations`
                if isinstance(annotation, str):
                    annotation = eval(annotation, namespace)
            hints[name] = annotation
        except Exception:
            raise InvalidArgument(
                f"tool {tool!r}: cannot read its type hints "
                f"({type(unreadable).__name__}: {unreadable}); annotate with str, int, float, "
                "bool, Literal, an Enum, list, dict or Optional, or pass parameters=..."
            ) from None
    return hints


def _parameters_from_signature(
    function: Callable[..., Any], tool: str, docs: Mapping[str, str]
) -> tuple[dict[str, Any], dict[str, Converter], list[str]]:
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError) as exc:  # a builtin or extension callable without one
        raise InvalidArgument(
            f"tool {tool!r}: cannot read its signature ({type(exc).__name__}: {exc}); "
            "pass parameters=..."
        ) from None
    hints = _type_hints(function, tool)
    properties: dict[str, Any] = {}
    required: list[str] = []
    optional: list[str] = []
    converters: dict[str, Converter] = {}
    for param in signature.parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue  # *args / **kwargs: nothing the model can be told about
        if param.kind == param.POSITIONAL_ONLY:
            raise InvalidArgument(
                f"tool {tool!r}: parameter {param.name!r} is positional-only; tools are called "
                "with keyword arguments"
            )
        where = f"tool {tool!r}, parameter {param.name!r}"
        schema, convert, nullable = _describe(hints.get(param.name, str), where)
        if param.name in docs and "description" not in schema:
            schema = {**schema, "description": docs[param.name]}
        properties[param.name] = schema
        converters[param.name] = convert
        if param.default is inspect.Parameter.empty:
            if nullable:
                optional.append(param.name)
            else:
                required.append(param.name)
    return {"type": "object", "properties": properties, "required": required}, converters, optional


def _describe(annotation: Any, where: str) -> tuple[dict[str, Any], Converter, bool]:
    """(JSON schema, converter from JSON, whether None is allowed) for one type hint."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is None and annotation is not Any and not isinstance(annotation, type):
        raise InvalidArgument(
            f"{where}: {annotation!r} is not a type; use str, int, float, bool, Literal, an "
            "Enum, list, dict or Optional, or pass parameters=..."
        )
    if origin is typing.Annotated:
        schema, convert, nullable = _describe(args[0], where)
        notes = [a for a in args[1:] if isinstance(a, str)]
        return ({**schema, "description": notes[0]} if notes else schema), convert, nullable
    if origin in (typing.Union, types.UnionType):
        members = [a for a in args if a is not type(None)]
        if len(members) != 1:
            raise InvalidArgument(f"{where}: unions other than Optional[X] are not supported")
        schema, convert, _ = _describe(members[0], where)
        return schema, _or_none(convert), True
    if origin is Literal:
        return _enum_schema(list(args), where), _member_of(list(args)), False
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        values = [member.value for member in annotation]
        check = _member_of(values)
        return _enum_schema(values, where), lambda v: annotation(check(v)), False
    if origin in (list, tuple) or annotation in (list, tuple):
        if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
            raise InvalidArgument(f"{where}: only tuple[X, ...] is supported among tuples")
        if origin is list and len(args) > 1:
            raise InvalidArgument(f"{where}: a list has one item type, list[X], got {annotation}")
        item = args[0] if args else Any
        items, convert_item, _ = _describe(item, where) if item is not Any else ({}, _any, False)
        container = tuple if (origin or annotation) is tuple else list
        return {"type": "array", "items": items}, _array_of(convert_item, container), False
    if annotation is dict or origin is dict:
        return {"type": "object"}, _object, False
    if annotation is Any:
        return {}, _any, False
    simple = _SIMPLE.get(annotation) if isinstance(annotation, type) else None
    if simple is None:
        raise InvalidArgument(
            f"{where}: type {annotation!r} cannot be described to the model; use str, int, "
            "float, bool, Literal, an Enum, list, dict or Optional, or pass parameters=..."
        )
    return dict(simple[0]), simple[1], False


def _enum_schema(values: list[Any], where: str) -> dict[str, Any]:
    kinds = {_JSON_KIND.get(type(v)) for v in values}
    if None in kinds or len(kinds) != 1:
        raise InvalidArgument(f"{where}: choices must all be strings, or all numbers: {values!r}")
    return {"type": kinds.pop(), "enum": values}


# --------------------------------------------------------------------------- converters


def _any(value: Any) -> Any:
    return value


def _string(value: Any) -> str:
    if not isinstance(value, str):
        raise BadArguments(f"expected a string, got {_shown(value)}")
    return value


def _integer(value: Any) -> int:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        try:
            return int(value)  # models sometimes quote numbers
        except ValueError:  # more digits than int() takes (sys.get_int_max_str_digits)
            raise BadArguments(
                f"expected an integer, got one of {len(value.strip())} digits"
            ) from None
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadArguments(f"expected an integer, got {_shown(value)}")
    return value


def _number(value: Any) -> float:
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise BadArguments(f"expected a number, got {_shown(value)}") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BadArguments(f"expected a number, got {_shown(value)}")
    try:
        number = float(value)
    except OverflowError:  # an int too large for a float
        raise BadArguments("expected a number, got an integer too large for a float") from None
    if not math.isfinite(number):
        raise BadArguments(f"expected a finite number, got {number!r}")
    return number


def _shown(value: Any) -> str:
    """A value as the model sent it, cut short: an error output must stay small."""
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:77]}..."


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise BadArguments(f"expected true or false, got {_shown(value)}")
    return value


def _object(value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise BadArguments(f"expected an object, got {_shown(value)}")
    return dict(value)


def _or_none(convert: Converter) -> Converter:
    return lambda value: None if value is None else convert(value)


def _member_of(values: list[Any]) -> Converter:
    def check(value: Any) -> Any:
        if value not in values or isinstance(value, bool) != isinstance(values[0], bool):
            raise BadArguments(f"expected one of {values!r}, got {_shown(value)}")
        return value

    return check


def _array_of(convert: Converter, container: type) -> Converter:
    def check(value: Any) -> Any:
        if not isinstance(value, list):
            raise BadArguments(f"expected a list, got {_shown(value)}")
        return container(convert(item) for item in value)

    return check


_SIMPLE: dict[Any, tuple[dict[str, Any], Converter]] = {
    str: ({"type": "string"}, _string),
    int: ({"type": "integer"}, _integer),
    float: ({"type": "number"}, _number),
    bool: ({"type": "boolean"}, _boolean),
}
_JSON_KIND = {str: "string", int: "integer", float: "number"}


# --------------------------------------------------------------------------- docstrings


def _parse_docstring(doc: str) -> tuple[str, dict[str, str]]:
    """(the text before an ``Args:`` section, {parameter: its description}).

    Google style: ``name: text`` or ``name (type): text`` lines under ``Args:`` /
    ``Parameters:``, continuation lines indented further.
    """
    lines = doc.splitlines()
    for index, line in enumerate(lines):
        if line.strip().lower() in ("args:", "arguments:", "parameters:"):
            summary = " ".join(part.strip() for part in lines[:index] if part.strip())
            return summary, _argument_docs(lines[index + 1 :])
    return " ".join(part.strip() for part in lines if part.strip()), {}


def _argument_docs(lines: list[str]) -> dict[str, str]:
    docs: dict[str, str] = {}
    current, indent = None, None
    for line in lines:
        if not line.strip():
            continue
        depth = len(line) - len(line.lstrip())
        entry = re.match(r"\s*(\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$", line)
        if entry and (indent is None or depth <= indent):
            indent, current = depth, entry.group(1)
            docs[current] = entry.group(2).strip()
        elif current is not None and indent is not None and depth > indent:
            docs[current] = f"{docs[current]} {line.strip()}".strip()
        else:
            break  # the next section
    return docs
