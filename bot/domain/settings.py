"""Settings models (the config's sections and every `[table]`'s settings) that accept a valid table without pydantic.

pydantic with its compiled core is 6 MB of an idle `hotpapers run`'s 83 MB (bench/RESULTS.md, "rss"), loaded only to
accept a config file that is almost always valid. A model here is declared as a pydantic model would be (`Field`
with the same constraints, `field_validator`, `model_validator`, `AfterValidator`, `model_config`) and checks a table
itself, strictly: only the exact types TOML gives (a whole number for an int, a number for a float, a list for a
tuple, a table for a section), the bounds and patterns, the model's own validators and no unknown key. Anything else
— a wrong value, a value pydantic would coerce ("5" for an int), an annotation this checker does not know — goes to
pydantic, through a model built from the same declaration (same name, fields, aliases, constraints and validators).
So every error message and every coercion is pydantic's own, word for word, and pydantic is imported only then.
"""

from __future__ import annotations

import copy
import re
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal, Self, TypedDict, TypeVar, Union, dataclass_transform

_MISSING: Any = type("Missing", (), {"__repr__": lambda self: "MISSING"})()
FunctionT = TypeVar("FunctionT")


class ConfigDict(TypedDict, total=False):
    """The subset of pydantic's `ConfigDict` these models use (passed on to pydantic as it is)."""

    extra: Literal["forbid", "ignore"]
    frozen: bool
    populate_by_name: bool


@dataclass(frozen=True, slots=True)
class FieldInfo:
    """A field's declaration, as `pydantic.Field` takes it."""

    default: Any = _MISSING
    default_factory: Callable[[], Any] | None = None
    alias: str | None = None
    validate_default: bool = False
    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None
    min_length: int | None = None
    pattern: str | None = None

    def constraints(self) -> dict[str, Any]:
        """The keyword arguments of `pydantic.Field` this declaration stands for."""
        names = ("alias", "ge", "gt", "le", "lt", "min_length", "pattern")
        given = {name: getattr(self, name) for name in names if getattr(self, name) is not None}
        if self.validate_default:
            given["validate_default"] = True
        if self.default_factory is not None:
            return {**given, "default_factory": self.default_factory}
        return {**given, "default": self.default} if self.default is not _MISSING else given


def Field(
    default: Any = _MISSING,
    *,
    default_factory: Callable[[], Any] | None = None,
    alias: str | None = None,
    validate_default: bool = False,
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    lt: float | None = None,
    min_length: int | None = None,
    pattern: str | None = None,
) -> Any:
    """Declare a field's default and constraints, as `pydantic.Field` does."""
    return FieldInfo(default, default_factory, alias, validate_default, ge, gt, le, lt, min_length, pattern)


@dataclass(frozen=True, slots=True)
class AfterValidator:
    """`Annotated[T, AfterValidator(check)]`: `check` runs on the value once it is a T (pydantic's AfterValidator)."""

    func: Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class _Validator:
    """A `field_validator` or `model_validator` method; the class keeps it, pydantic's model gets it re-decorated."""

    function: Any
    fields: tuple[str, ...]
    mode: Literal["before", "after"]


def field_validator(*fields: str, mode: Literal["before", "after"] = "after") -> Callable[[Any], Any]:
    """Mark a classmethod that checks (and may rewrite) the named fields' values, as pydantic's decorator does."""
    return lambda function: _Validator(function, fields, mode)


def model_validator(*, mode: Literal["after"]) -> Callable[[Any], Any]:
    """Mark a method that checks the whole validated model (returns it), as pydantic's decorator does."""
    return lambda function: _Validator(function, (), mode)


class TableError(ValueError):
    """A table pydantic refused: its report as `pydantic.ValidationError.errors()` gives it (`loc`, `msg`,
    `input`), so the message is pydantic's without anyone having to import pydantic to catch it."""

    def __init__(self, problems: list[dict[str, Any]]) -> None:
        super().__init__(f"{len(problems)} validation error(s)")
        self._problems = problems

    def errors(self) -> list[dict[str, Any]]:
        return self._problems


class _Unsure(Exception):
    """Not accepted by the strict check: pydantic decides (and words the error)."""


@dataclass(frozen=True, slots=True)
class _Field:
    name: str
    type: Any
    info: FieldInfo
    keys: tuple[str, ...]
    """The table keys that set it: its alias (or name), and its name too with `populate_by_name`."""


@dataclass_transform(kw_only_default=True, frozen_default=True, field_specifiers=(Field,))
class SettingsModel:
    """Base of a settings model: `Model(**table)` / `Model.model_validate(table)` check a table (see the module),
    frozen, equal when their fields are, `model_copy(update=...)` as pydantic's (not validated)."""

    model_config: ClassVar[ConfigDict] = {}
    _fields: ClassVar[tuple[_Field, ...] | None] = None
    _pydantic: ClassVar[Any] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._fields = None  # resolved at the first check, when every class the annotations name exists
        cls._pydantic = None

    def __init__(self, **data: Any) -> None:
        object.__setattr__(self, "__dict__", dict(type(self)._checked(data).__dict__))

    @classmethod
    def model_validate(cls, data: Any) -> Self:
        return cls._checked(data)

    @classmethod
    def _checked(cls, data: Any) -> Self:
        try:
            return cls._strict(data)
        except _Unsure:
            return cls._by_pydantic(data)

    def model_copy(self, *, update: Mapping[str, Any] | None = None) -> Self:
        copied = object.__new__(type(self))
        object.__setattr__(copied, "__dict__", {**self.__dict__, **(update or {})})
        return copied

    def __setattr__(self, name: str, value: Any) -> None:
        if self.model_config.get("frozen", False):
            raise AttributeError(f"{type(self).__name__} is frozen: cannot set {name!r}")
        super().__setattr__(name, value)

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self.__dict__ == other.__dict__

    def __hash__(self) -> int:
        return hash((type(self), *self.__dict__.values()))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{name}={value!r}' for name, value in self.__dict__.items())})"

    # -- the strict check ------------------------------------------------------------------------------------------

    @classmethod
    def _declared(cls) -> tuple[_Field, ...]:
        if cls._fields is None:
            hints = typing.get_type_hints(cls, include_extras=True)  # each class's names from its own module
            by_name = cls.model_config.get("populate_by_name", False)
            fields = []
            for name, hint in hints.items():
                if typing.get_origin(hint) is ClassVar or name.startswith("_"):
                    continue
                declared = getattr(cls, name, _MISSING)
                info = declared if isinstance(declared, FieldInfo) else FieldInfo(default=declared)
                keys = (info.alias, name) if info.alias and by_name else (info.alias or name,)
                fields.append(_Field(name, hint, info, keys))
            cls._fields = tuple(fields)
        return cls._fields

    @classmethod
    def _validators(cls, mode: str, field: str | None = None) -> list[Any]:
        """The class's validators of this mode: for `field`, or the model's own (field None), in declaration order."""
        found = {}
        for klass in reversed(cls.__mro__):
            found.update({k: v for k, v in vars(klass).items() if isinstance(v, _Validator)})
        return [
            v.function.__get__(None, cls) if field is not None else v.function
            for v in found.values()
            if v.mode == mode and (field in v.fields if field is not None else not v.fields)
        ]

    @classmethod
    def _strict(cls, data: Any) -> Self:
        if isinstance(data, cls):
            return data
        if type(data) is not dict:
            raise _Unsure
        fields = cls._declared()
        known = {key for field in fields for key in field.keys}
        if cls.model_config.get("extra") == "forbid" and not known.issuperset(data):
            raise _Unsure
        values = {}
        for field in fields:
            given = [key for key in field.keys if key in data]
            if len(given) > 1:
                raise _Unsure
            if given:
                raw = data[given[0]]
            elif field.info.default_factory is not None:
                raw = field.info.default_factory()
            elif field.info.default is _MISSING:
                raise _Unsure  # a required field left out
            else:
                raw = _fresh(field.info.default)
            if not given and not field.info.validate_default:
                values[field.name] = raw
                continue
            values[field.name] = cls._value(field, raw)
        checked = object.__new__(cls)
        object.__setattr__(checked, "__dict__", values)
        for validator in cls._validators("after"):
            checked = _attempt(validator, checked)
        return checked

    @classmethod
    def _value(cls, field: _Field, raw: Any) -> Any:
        for validator in cls._validators("before", field.name):
            raw = _attempt(validator, raw)
        value = _strict_value(field.type, raw)
        info = field.info
        if value is None:  # an optional field left empty: its constraints are its value's
            return cls._after(field, value)
        if info.pattern is not None and not (value.isascii() and "\n" not in value and re.search(info.pattern, value)):
            raise _Unsure  # pydantic's regex engine differs from `re` on newlines and non-ASCII: let it judge
        if info.min_length is not None and len(value) < info.min_length:
            raise _Unsure
        bounds: tuple[tuple[float | None, Callable[[float], bool]], ...] = (
            (info.ge, lambda bound: value >= bound),
            (info.gt, lambda bound: value > bound),
            (info.le, lambda bound: value <= bound),
            (info.lt, lambda bound: value < bound),
        )
        if not all(holds(bound) for bound, holds in bounds if bound is not None):
            raise _Unsure
        return cls._after(field, value)

    @classmethod
    def _after(cls, field: _Field, value: Any) -> Any:
        for validator in cls._validators("after", field.name):
            value = _attempt(validator, value)
        return value

    # -- pydantic, when the strict check is not sure ---------------------------------------------------------------

    @classmethod
    def _by_pydantic(cls, data: Any) -> Self:
        from pydantic import ValidationError

        try:
            validated = cls._pydantic_model().model_validate(_plain(data))
        except ValidationError as error:
            raise TableError([dict(problem) for problem in error.errors(include_url=False)]) from None
        result: Self = _ours(validated)
        return result

    @classmethod
    def _pydantic_model(cls) -> Any:
        """The pydantic model of the same declaration (name, fields, aliases, constraints, validators)."""
        if cls._pydantic is None:
            import pydantic

            validators = {
                f"{name}_{index}": (
                    pydantic.field_validator(*v.fields, mode=v.mode)(v.function)
                    if v.fields
                    else pydantic.model_validator(mode="after")(v.function)
                )
                for index, klass in enumerate(reversed(cls.__mro__))
                for name, v in vars(klass).items()
                if isinstance(v, _Validator)
            }
            fields = {
                field.name: (_pydantic_type(field.type), pydantic.Field(**field.info.constraints()))
                for field in cls._declared()
            }
            model = pydantic.create_model(  # type: ignore[call-overload]
                cls.__name__,
                __config__=pydantic.ConfigDict(**cls.model_config),  # type: ignore[typeddict-item]
                __validators__=validators,
                __module__=cls.__module__,
                **fields,
            )
            _OURS[model] = cls
            cls._pydantic = model
        return cls._pydantic


_OURS: dict[Any, type[SettingsModel]] = {}
"""Each pydantic model built → the settings model it stands for."""


def _attempt(validator: Callable[[Any], Any], value: Any) -> Any:
    """Run a model's validator; what it refuses, pydantic will refuse again with its wording."""
    try:
        return validator(value)
    except (ValueError, AssertionError):
        raise _Unsure from None


def _fresh(default: Any) -> Any:
    """A mutable default copied for each model, as pydantic does."""
    try:
        hash(default)
    except TypeError:
        return copy.deepcopy(default)
    return default


def _strict_value(hint: Any, raw: Any) -> Any:
    """`raw` if it already is exactly what `hint` asks (tuples from lists, floats from ints); else _Unsure."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return raw
    if origin is Annotated:
        value = _strict_value(args[0], raw)
        for extra in hint.__metadata__:
            if not isinstance(extra, AfterValidator):
                raise _Unsure
            value = _attempt(extra.func, value)
        return value
    if hint in (bool, int, str) and type(raw) is hint:
        return raw
    if hint is float and type(raw) in (int, float):
        return float(raw)
    if origin in (Union, types.UnionType) and len(args) == 2 and type(None) in args:
        return None if raw is None else _strict_value(next(arg for arg in args if arg is not type(None)), raw)
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis and type(raw) in (list, tuple):
        return tuple(_strict_value(args[0], item) for item in raw)
    if origin is dict and args[0] is str and type(raw) is dict and all(type(key) is str for key in raw):
        return {key: _strict_value(args[1], value) for key, value in raw.items()}
    if origin is Literal and any(type(raw) is type(arg) and raw == arg for arg in args):
        return raw
    if isinstance(hint, type) and issubclass(hint, SettingsModel):
        return hint._strict(raw)
    raise _Unsure


def _pydantic_type(hint: Any) -> Any:
    """`hint` with each settings model replaced by its pydantic model and AfterValidator by pydantic's."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if isinstance(hint, type) and issubclass(hint, SettingsModel):
        return hint._pydantic_model()
    if origin is Annotated:
        from pydantic import AfterValidator as PydanticAfter

        extras = [PydanticAfter(m.func) if isinstance(m, AfterValidator) else m for m in hint.__metadata__]
        return Annotated[(_pydantic_type(args[0]), *extras)]
    if origin is None or origin is Literal or not args:
        return hint
    converted = tuple(_pydantic_type(arg) if arg is not Ellipsis else arg for arg in args)
    if origin in (Union, types.UnionType):
        return Union[converted]  # noqa: UP007 - built from a runtime tuple
    return origin[converted] if origin in (tuple, dict) else hint


def _plain(value: Any) -> Any:
    """Settings models inside a table given to pydantic as the tables they came from (pydantic knows its own)."""
    if isinstance(value, SettingsModel):
        keys = {field.name: field.keys[0] for field in type(value)._declared()}
        return {keys[name]: _plain(item) for name, item in value.__dict__.items()}
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


def _ours(value: Any) -> Any:
    """pydantic's validated models turned into the settings models they stand for (nested in dicts and tuples)."""
    model = _OURS.get(type(value))
    if model is not None:
        ours = object.__new__(model)
        object.__setattr__(
            ours, "__dict__", {field.name: _ours(getattr(value, field.name)) for field in model._declared()}
        )
        return ours
    if isinstance(value, dict):
        return {key: _ours(item) for key, item in value.items()}
    if isinstance(value, tuple):
        return tuple(_ours(item) for item in value)
    return value
