"""What ``gnnexp list`` reads from the config directories: each option file's description,
the primary config's defaults, the values an option file sets, and the declared class behind
an option file. YAML read directly: no Hydra composition, no torch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from gnnexp.config.components import SCHEMA_PREFIX

HIDDEN_GROUPS = ("hydra",)


def describe(path: Path) -> str:
    """The first comment line of a YAML file, or its _target_ when it has no comment."""
    text = path.read_text()
    for line in text.splitlines():
        stripped = line.strip()
        if (
            stripped.startswith("#")
            and stripped.lstrip("#").strip()
            and not stripped.startswith("# @package")
        ):
            return stripped.lstrip("#").strip()
        if stripped and not stripped.startswith("#"):
            break
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError:
        return "(unreadable YAML)"
    return f"_target_: {data['_target_']}" if isinstance(data, dict) and data.get("_target_") else ""


def defaults(root: Path) -> dict[str, str]:
    """Group -> default option, from the primary config's defaults list."""
    data = yaml.safe_load((root / "config.yaml").read_text()) or {}
    chosen = {}
    for entry in data.get("defaults", []):
        if isinstance(entry, dict):
            for key, value in entry.items():
                if not key.startswith("override") and value is not None:
                    chosen[key] = str(value)
    return chosen


def collect(roots: list[Path]) -> dict[str, dict[str, tuple[str, str]]]:
    """Group -> option -> (description, where it comes from); later roots override. A
    user's option file without a comment line is described by its class's docstring when
    the class is declared (imported with ``imports=[...]``)."""
    from gnnexp.config.components import description

    groups: dict[str, dict[str, tuple[str, str]]] = {}
    for index, root in enumerate(roots):
        origin = "gnnexp" if index == 0 else str(root)
        for path in sorted(root.rglob("*.yaml")):
            group = path.parent.relative_to(root).as_posix()
            if group == "." or group.split("/")[0] in HIDDEN_GROUPS or path.stem.startswith(SCHEMA_PREFIX):
                continue
            text = describe(path)
            cls = _component_of(group, path.stem, [root]) if index and not text else None
            if cls is not None and cls.__doc__:
                text = description(cls)
            groups.setdefault(group, {})[path.stem] = (text, origin)
    return groups


def option_values(group: str, option: str, roots: list[Path]) -> dict[str, Any]:
    """The values ``group=option``'s file sets (the last root that has it wins): with the
    declared defaults, what ``group=option`` composes."""
    values: dict[str, Any] = {}
    for root in roots:
        path = root / group / f"{option}.yaml"
        if path.is_file():
            data = yaml.safe_load(path.read_text()) or {}
            values = {k: v for k, v in data.items() if k != "defaults"} if isinstance(data, dict) else {}
    return values


def _schema_named(group: str, option: str, roots: list[Path]) -> str | None:
    """The ``base_<name>`` schema ``group=option``'s file builds on (the last root that has it)."""
    schema = None
    for root in roots:
        path = root / group / f"{option}.yaml"
        try:
            data = yaml.safe_load(path.read_text()) if path.is_file() else None
        except yaml.YAMLError:
            continue
        if isinstance(data, dict):
            entries = data.get("defaults") or []
            schema = next((e for e in entries if isinstance(e, str) and e.startswith(SCHEMA_PREFIX)), schema)
    return schema


def _component_of(group: str, option: str, roots: list[Path]) -> type | None:
    """The declared class behind an option file (``dataset=cora`` -> the planetoid source)."""
    from gnnexp.config.components import GROUPS, lookup
    from gnnexp.config.schema import NODES

    if group in NODES:
        return NODES[group]
    if group not in GROUPS:
        return None
    if lookup(group, option) is not None:
        return lookup(group, option)
    schema = _schema_named(group, option, roots)
    return lookup(group, schema.removeprefix(SCHEMA_PREFIX)) if schema else None
