"""The config's contract: the JSON schema, validation that fills in its defaults, and the typed
conversion of a validated mapping into the config dataclasses (``ali_bench/config.py``).

Why here and not in Snakemake alone: the workflow validates the config with this same code before
any job starts (``workflow/rules/common.smk``), and a command run by hand gets the same checks, each
refusal one line that names the key.
"""

from __future__ import annotations

import copy
import dataclasses
import typing
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft7Validator, validators
from jsonschema.exceptions import best_match

SCHEMA_PATH = Path(__file__).with_name("config.schema.yaml")


class ConfigError(ValueError):
    """A configuration problem, phrased as one line that names the offending key."""


def _with_defaults(validator_class):
    """Extend a jsonschema validator so that validating also fills in every ``default``."""
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, subschema in properties.items():
                if "default" in subschema:
                    instance.setdefault(name, copy.deepcopy(subschema["default"]))
        yield from validate_properties(validator, properties, instance, schema)

    return validators.extend(validator_class, {"properties": set_defaults})


_DefaultingValidator = _with_defaults(Draft7Validator)


# keys that earlier versions accepted: what replaced each, so that an old config is told what to write
REPLACED = {
    "semisup.supervised_baseline": "list the models to train in 'semisup.models' instead "
    "(ali, supervised, gan-fm; every dataset gets each listed model)",
}


def load_schema() -> dict:
    with open(SCHEMA_PATH) as handle:
        return yaml.safe_load(handle)


def _describe(error, origins: dict | None = None) -> str:
    path = ".".join(str(part) for part in error.absolute_path)
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        unknown = sorted(set(error.instance) - set(allowed))
        key = f"{path}.{unknown[0]}" if path else unknown[0]
        if key in REPLACED:
            return f"config key '{key}' is gone: {REPLACED[key]}"
        return (
            f"config key '{key}' is not allowed; "
            f"allowed keys{' under ' + repr(path) if path else ''}: {', '.join(allowed)}"
        )
    return f"config key '{path or '<root>'}': {error.message}{_command_line_hint(error, origins)}"


def _reads_as(text: str, json_type: str) -> bool:
    """Whether ``text`` is how a user would write a value of ``json_type`` by hand."""
    if json_type == "boolean":
        return text.lower() in ("true", "false", "yes", "no", "on", "off")
    try:
        value = float(text)
    except ValueError:
        return False
    return json_type == "number" or value.is_integer()


def _command_line_hint(error, origins: dict | None = None) -> str:
    """Why a typed value arrived as a string, when it did, and the fix for where it was written.

    Snakemake's ``--config`` parses only ``True``/``False`` (capitalised) as booleans and leaves
    every value inside a mapping a string (``--config toy='{training: {epochs: 20}}'`` gives
    ``'20'``); a YAML file read by PyYAML (YAML 1.1) keeps ``3e-4`` a string, since its floats need
    a dot and a signed exponent. ``origins`` maps a dotted key to the ``(file, text)`` it was read
    from (``ali_bench.config.number_strings``), so the advice names the file and the spelling that
    works there; without it the bare schema message would send a user looking for a typo that is
    not there."""
    expected = error.validator_value if error.validator == "type" else None
    expected = [expected] if isinstance(expected, str) else list(expected or [])
    if not isinstance(error.instance, str) or not any(_reads_as(error.instance, kind) for kind in expected):
        return ""
    key = ".".join(str(part) for part in error.absolute_path)
    file, text = (origins or {}).get(key, (None, None))
    if file is not None and text == error.instance:
        if "number" not in expected:  # an integer key: a float spelling would be refused in turn
            return (
                f" (config file '{file}': YAML reads {text} as a string, not a number: write it as {int(float(text))})"
            )
        return (
            f" (config file '{file}': YAML reads {text} as a string, since a YAML float needs a dot and a signed "
            f"exponent: write it as {yaml_float(text)} or {float(text)!r})"
        )
    if "boolean" in expected and len(error.absolute_path) == 1:
        fix = f"write {error.absolute_path[0]}={error.instance.lower() in ('true', 'yes', 'on')}"
    else:
        fix = "put the value in a --configfile"
    return (
        f" (Snakemake's --config reads only True/False as booleans and leaves values inside a mapping strings: {fix})"
    )


def yaml_float(text: str) -> str:
    """``text`` (a number PyYAML leaves a string, such as ``3e-4``) spelled so that YAML reads a float: ``3.0e-4``."""
    mantissa, _, exponent = text.strip().lower().partition("e")
    if "." not in mantissa:
        mantissa += ".0"
    if not exponent:
        return mantissa
    sign = "" if exponent[0] in "+-" else "+"
    return f"{mantissa}e{sign}{exponent}"


# Names of the two ends of a range, as the schema spells them: low/high, log_c_low/log_c_high, min_x/max_x, start/stop.
RANGE_ENDS = (("low", "high"), ("min", "max"), ("start", "stop"))


def _range_partner(key: str) -> str | None:
    """The upper end's key for a lower end's ``key`` (``log_c_low`` -> ``log_c_high``), or None."""
    for low, high in RANGE_ENDS:
        if key == low:
            return high
        if key.endswith(f"_{low}"):
            return key[: -len(low)] + high
        if key.startswith(f"{low}_"):
            return high + key[len(low) :]
    return None


def check_ranges(instance: Any, prefix: str = "") -> None:
    """Refuse a reversed range anywhere in the config: a lower end above its upper end.

    Why here, after the schema: JSON schema cannot compare two values, and a reversed range either
    samples nothing sensible (a log-uniform draw from an empty interval) or fails deep in a job."""
    if not isinstance(instance, dict):
        return
    for key, value in instance.items():
        partner = _range_partner(str(key))
        upper = instance.get(partner) if partner else None
        if _is_number(value) and _is_number(upper) and value > upper:
            raise ConfigError(
                f"config keys '{prefix}{key}' = {value} and '{prefix}{partner}' = {upper} are reversed: "
                f"{key} must not be above {partner}; swap them"
            )
        check_ranges(value, f"{prefix}{key}.")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def validate(raw: dict | None, origins: dict | None = None) -> dict:
    """Return a copy of ``raw`` with every default filled in, or raise a one-line ConfigError.

    ``origins``: the dotted keys whose string values were read from a YAML file, and from which
    (``ali_bench.config.number_strings``), so that a number YAML kept a string is explained for
    that file."""
    instance = copy.deepcopy(raw) if raw is not None else {}
    if not isinstance(instance, dict):
        raise ConfigError(f"the configuration must be a mapping, got {type(instance).__name__}")
    errors = list(_DefaultingValidator(load_schema()).iter_errors(instance))
    if errors:
        raise ConfigError(_describe(best_match(errors), origins))
    check_ranges(instance)
    return instance


def _convert(value: Any, annotation: Any, path: str) -> Any:
    origin = typing.get_origin(annotation)
    if dataclasses.is_dataclass(annotation):
        if not isinstance(value, dict):
            raise ConfigError(f"config key '{path}': expected a mapping, got {value!r}")
        return build(annotation, value, path)
    if origin is tuple:
        (item_type, _ellipsis) = typing.get_args(annotation)
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"config key '{path}': expected a list, got {value!r}")
        return tuple(_convert(item, item_type, f"{path}[{i}]") for i, item in enumerate(value))
    if annotation is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"config key '{path}': expected true or false, got {value!r}")
        return value
    if annotation == bool | str:  # a choice that includes true and false (images.download: auto | true | false)
        if not isinstance(value, (bool, str)):
            raise ConfigError(f"config key '{path}': expected true, false or a name, got {value!r}")
        return value
    if annotation is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"config key '{path}': expected an integer, got {value!r}")
        return value
    if annotation is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"config key '{path}': expected a number, got {value!r}")
        return float(value)
    if annotation is str:
        if not isinstance(value, str):
            raise ConfigError(f"config key '{path}': expected a string, got {value!r}")
        return value
    raise TypeError(f"unsupported config annotation {annotation!r} at {path}")  # programming error


def build(cls, data: dict, path: str):
    hints = typing.get_type_hints(cls)
    names = [field.name for field in dataclasses.fields(cls)]
    prefix = f"{path}." if path else ""
    unknown = sorted(set(data) - set(names))
    if unknown:
        raise ConfigError(f"config key '{prefix}{unknown[0]}' is not allowed; allowed: {', '.join(names)}")
    missing = [name for name in names if name not in data]
    if missing:
        raise ConfigError(f"config key '{prefix}{missing[0]}' is missing")
    kwargs = {name: _convert(data[name], hints[name], prefix + name) for name in names}
    try:
        return cls(**kwargs)
    except ConfigError as error:
        message = str(error)
        raise ConfigError(message if message.startswith("config key") else f"config key '{path}': {message}") from None


def from_dict(cls, data: dict, path: str = ""):
    """Build the config dataclass ``cls`` from an already validated mapping (e.g. one saved in a result)."""
    return build(cls, data, path)
