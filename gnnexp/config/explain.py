"""One-line :class:`ConfigError` messages for command lines Hydra would refuse.

Mistakes Hydra cannot name well are refused before it runs (:func:`check_overrides`);
the rest of its composition errors are read from the exceptions' types and attributes
(:func:`explain`), never from their text. Each becomes one sentence naming the bad
override, the closest valid choice and how to fix it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import yaml

from gnnexp.config.components import SCHEMA_PREFIX
from gnnexp.errors import ConfigError, closest, did_you_mean

# Plugins that live in optional extras: the group option a user selects -> extra to install.
PLUGIN_EXTRAS = {
    "hydra/launcher/joblib": "joblib",
    "hydra/launcher/submitit_local": "submitit",
    "hydra/launcher/submitit_slurm": "submitit",
    "hydra/launcher/ray": "ray",
    "hydra/sweeper/optuna": "optuna",
}


def _type_names() -> dict[type, str]:
    from omegaconf.nodes import BooleanNode, FloatNode, IntegerNode

    return {IntegerNode: "an integer", FloatNode: "a number", BooleanNode: "true or false"}


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else text


def _missing_option(ex: Exception) -> ConfigError:
    missing: str = getattr(ex, "missing_cfg_file", "") or ""
    options = [o for o in (getattr(ex, "options", None) or []) if not o.startswith(SCHEMA_PREFIX)]
    group, _, name = missing.rpartition("/")
    if not options and group:  # Hydra names none for an option inside a list (logger=[csv,x])
        from gnnexp.paths import config_dir

        options = sorted(p.stem for p in (config_dir() / group).glob("*.yaml"))
    if missing in PLUGIN_EXTRAS:
        extra = PLUGIN_EXTRAS[missing]
        return ConfigError(
            f"{group}={name} needs a Hydra plugin that is not installed.",
            f"pip install 'gnnexp[{extra}]' (or make install-{extra}).",
        )
    if not group:
        return ConfigError(f"Config '{missing}' not found.", "check --config-name.")
    key = group.replace("/", ".")
    valid = ", ".join(options) if options else "(none)"
    guess = closest(name, options)
    fix = f"use {group}={guess}." if guess else f"pick one of: {valid}."
    return ConfigError(
        f"Unknown {key} '{name}'.{did_you_mean(name, options)} Valid {key} options: {valid}.",
        fix + f" A new option is a file {group}/{name}.yaml in your --config-dir.",
    )


def _unknown_key(cause: Exception) -> ConfigError:
    full_key: str = getattr(cause, "full_key", "") or getattr(cause, "key", "")
    key = str(getattr(cause, "key", full_key))
    parent = getattr(cause, "parent_node", None)
    keys = [str(k) for k in parent if str(k) != "hydra"] if parent is not None else []
    prefix = full_key[: -len(key)] if full_key.endswith(key) else ""
    guess = closest(key, keys)
    where = f"'{prefix.rstrip('.')}'" if prefix else "the top level"
    problem = f"Unknown key '{full_key}': {where} has no key '{key}'."
    if guess:
        return ConfigError(problem + f" Did you mean '{prefix}{guess}'?", f"use {prefix}{guess}=...")
    return ConfigError(
        problem + f" Valid keys: {', '.join(keys)}.",
        "use one of those (gnnexp list GROUP OPTION shows what each option declares).",
    )


def _wrong_type(cause: Exception) -> ConfigError:
    # OmegaConf names the value and the typed node it did not fit (its attributes, not its text).
    full_key = getattr(cause, "full_key", "") or "?"
    expected = _type_names().get(type(getattr(cause, "child_node", None)))
    if expected is not None:
        return ConfigError(
            f"{full_key}={getattr(cause, 'value', '?')} has the wrong type: it must be {expected}.",
            f"give {full_key} {expected}.",
        )
    return ConfigError(f"{full_key}: {_first_line(str(cause))}.", f"check the value of {full_key}.")


@contextmanager
def explained() -> Iterator[None]:
    """Raise Hydra's and OmegaConf's errors that :func:`explain` knows as ConfigErrors."""
    try:
        yield
    except ConfigError:
        raise
    except Exception as err:
        friendly = explain(err)
        if friendly is None:
            raise
        raise friendly from err


def explain(ex: BaseException) -> ConfigError | None:
    """A one-line ConfigError for a Hydra/OmegaConf exception, or None if it is not one."""
    from hydra.errors import HydraException, MissingConfigException, OverrideParseException
    from omegaconf.errors import (
        ConfigAttributeError,
        ConfigKeyError,
        OmegaConfBaseException,
        ValidationError,
    )

    if isinstance(ex, MissingConfigException):
        return _missing_option(ex)
    broken = next((e for e in (ex, ex.__cause__, ex.__context__) if isinstance(e, yaml.YAMLError)), None)
    if broken is not None:
        mark = getattr(broken, "problem_mark", None)
        where = f"{mark.name} line {mark.line + 1}" if mark is not None else "a config file"
        problem = getattr(broken, "problem", None) or _first_line(str(broken))
        return ConfigError(f"{where} is not valid YAML ({problem}).", "fix that line of the file.")
    cause = ex.__cause__ if ex.__cause__ is not None else ex
    if isinstance(cause, (ConfigAttributeError, ConfigKeyError)) and getattr(cause, "key", None):
        return _unknown_key(cause)
    if isinstance(cause, ValidationError):
        return _wrong_type(cause)
    if isinstance(ex, OverrideParseException):
        return ConfigError(
            f"Cannot parse override: {_first_line(str(ex))}.",
            "write overrides as key=value, group=option or key=[a,b] "
            "(https://hydra.cc/docs/advanced/override_grammar/basic/).",
        )
    if isinstance(ex, (HydraException, OmegaConfBaseException)):
        text = " ".join(line.strip() for line in str(ex).strip().splitlines() if line.strip())
        return ConfigError(f"Invalid configuration: {text}", "check the overrides named above.")
    return None


def _primary_groups() -> set[str]:
    """The groups the primary config's defaults list already chooses an option of."""
    from gnnexp.paths import config_dir

    data = yaml.safe_load((config_dir() / "config.yaml").read_text()) or {}
    return {
        str(key)
        for entry in data.get("defaults", [])
        if isinstance(entry, dict)
        for key in entry
        if not str(key).startswith("override")
    }


def _refuse_schema_choice(group: str, line: str) -> None:
    """``model=base_gcn`` picks the schema under a model's YAML: on its own it is another
    network (the schema's defaults) trained under the name the schema declares."""
    from gnnexp.paths import config_dir

    folder = config_dir() / group
    if "." in group or not folder.is_dir():
        return
    value = line.partition("=")[2]
    schema = next((w for w in re.split(r"[\[\],\s()]+", value) if w.startswith(SCHEMA_PREFIX)), None)
    if schema is None:
        return
    options = sorted(p.stem for p in folder.glob("*.yaml"))
    plain = schema[len(SCHEMA_PREFIX) :]
    fix = f"use {group}={plain}." if plain in options else f"pick one of: {', '.join(options)}."
    raise ConfigError(
        f"{group}={schema} is the schema behind an option, not an option; the {group} options are: "
        f"{', '.join(options)}.",
        fix,
    )


def check_overrides(overrides: list[str], multirun: bool, primary: bool = True) -> None:
    """Refuse what Hydra would only refuse in words of its own: several values without
    ``-m``, and ``+group=option`` for a group the primary config already has (``primary``:
    the command line composes gnnexp's own config.yaml)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    with explained():
        parsed = OverridesParser.create().parse_overrides(overrides)
    chosen = _primary_groups() if primary else set()
    for override in parsed:
        line = override.input_line or override.key_or_group
        if override.is_sweep_override() and not multirun:
            raise ConfigError(
                f"{line} lists several values, which is a sweep.",
                f"add -m to run one job per value (gnnexp train -m {line}), or write "
                f"{override.key_or_group}=[...] for a list value.",
            )
        _refuse_schema_choice(override.key_or_group, line)
        if override.is_add() and override.key_or_group in chosen:
            plain = line.lstrip("+")
            raise ConfigError(
                f"{line} adds {override.key_or_group}, which the config already chooses (as null when unset).",
                f"write {plain} (without +).",
            )
