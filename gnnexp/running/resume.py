"""Finding what to resume, and checking that a resumed run is the same run."""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any

import yaml

from gnnexp.errors import CheckpointError, ConfigError, say

OUTPUTS = Path("outputs")
LATEST = "latest"


def find_latest_run(outputs: Path = OUTPUTS) -> Path:
    """The run (or sweep job) under ``outputs`` whose last.pt was written most recently."""
    candidates = list(outputs.glob("**/checkpoints/last.pt"))
    if not candidates:
        raise CheckpointError(
            f"trainer.resume=latest found no run with checkpoints/last.pt under {outputs.resolve()}.",
            "give the run directory or checkpoint explicitly: trainer.resume=<path>.",
        )
    return max(candidates, key=lambda p: p.stat().st_mtime).parent.parent


def resolve_resume(value: str) -> tuple[Path, Path]:
    """``(run dir, checkpoint)`` for ``trainer.resume=value`` (a dir, a .pt file or latest)."""
    path = find_latest_run() if value == LATEST else Path(value).expanduser()
    if path.is_dir():
        checkpoint = path / "checkpoints" / "last.pt"
        if not checkpoint.is_file():
            raise CheckpointError(
                f"{path} holds no checkpoints/last.pt to resume from.",
                "give a run directory written by gnnexp train, or a checkpoint file.",
            )
        return path.resolve(), checkpoint.resolve()
    if path.is_file():
        run_dir = path.parent.parent if path.parent.name == "checkpoints" else path.parent
        return run_dir.resolve(), path.resolve()
    raise CheckpointError(f"trainer.resume={value}: no such run directory or checkpoint.", "check the path.")


def original_overrides(run_dir: Path) -> list[str]:
    """The command-line overrides the run was started with (from Hydra's overrides.yaml).

    The file is data: each line must parse as one ``key=value`` override (a flag such as
    ``--experimental-rerun`` would run code), and Hydra's own settings are left out."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import OverrideParseException

    path = run_dir / ".hydra" / "overrides.yaml"
    if not path.is_file():
        return []
    try:
        overrides = yaml.safe_load(path.read_text()) or []
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        raise CheckpointError(
            f"{path} cannot be read back ({type(err).__name__}); the run's own overrides are unknown.",
            "repair or delete that file, then repeat the run's overrides on the command line.",
        ) from err
    if not isinstance(overrides, list) or not all(isinstance(o, str) for o in overrides):
        raise CheckpointError(f"{path} is not a list of overrides.", "repair or delete that file.")
    parser = OverridesParser.create()
    kept = []
    for text in overrides:
        try:
            (parsed,) = parser.parse_overrides([text])
        except (OverrideParseException, ValueError):
            raise CheckpointError(
                f"{path} holds {_shown(text)}, which is not a key=value override; gnnexp reads nothing else there.",
                "repair or delete that file, then repeat the run's overrides on the command line.",
            ) from None
        key = parsed.key_or_group
        if not (key == "hydra" or key.startswith(("hydra.", "hydra/", "trainer.resume"))):
            kept.append(text)
    return kept


def _shown(text: str) -> str:
    """``text`` for a one-line message: quoted, its control characters escaped, cut short."""
    return repr(text if len(text) <= 80 else text[:77] + "...")


def override(key: str, value: object) -> str:
    """``key=value`` as one Hydra override whatever ``value`` holds (a path with spaces,
    brackets, commas, ``=``, ``#``, ``;``, ``~`` or non-ASCII letters): single-quoted, its
    quotes and the backslashes before them escaped as Hydra's grammar asks, and ``${``
    escaped so that OmegaConf reads it as text rather than an interpolation."""
    import re

    text = str(value).replace("${", "\\${")
    quoted = re.sub(r"(\\*)('|$)", lambda m: m.group(1) * 2 + ("\\'" if m.group(2) else ""), text)
    return f"{key}='{quoted}'"


def _flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            out.update(_flatten(value, f"{prefix}{key}."))
        return out
    return {prefix.rstrip("."): node}


def differences(old: dict[str, Any], new: dict[str, Any], ignore: tuple[str, ...] = ()) -> list[str]:
    """``key: old -> new`` for every leaf that differs (keys starting with ``ignore`` skipped)."""
    a, b = _flatten(old), _flatten(new)
    keys = sorted(k for k in a.keys() | b.keys() if not k.startswith(ignore) and a.get(k) != b.get(k))
    return [f"{k}: {a.get(k, '(absent)')} -> {b.get(k, '(absent)')}" for k in keys]


def check_same_model(
    saved: dict[str, Any], current: dict[str, Any], model_keys: dict[str, Any], weights: dict[str, Any]
) -> None:
    """Refuse to resume when the model built from ``current`` cannot hold the saved weights."""
    shapes_differ = set(model_keys) != set(weights) or any(
        model_keys[k].shape != weights[k].shape for k in weights
    )
    if shapes_differ:
        changed = differences(
            {k: saved.get(k) for k in ("model", "dataset", "task")},
            {k: current.get(k) for k in ("model", "dataset", "task")},
        )
        raise ConfigError(
            "Cannot resume: this config builds a model of another shape than the checkpoint's "
            f"({'; '.join(changed) or 'differing parameters'}).",
            "resume with the run's own settings (drop those overrides), or start a new run.",
        )


def check_same_optimizer(
    saved: dict[str, Any], current: dict[str, Any], groups: list[int], saved_groups: list[int]
) -> None:
    """Refuse to resume when the optimizer built from ``current`` groups its parameters
    otherwise than the checkpoint's (``groups``: parameters per group), whose moments would
    then land on the wrong parameters."""
    if groups != saved_groups:
        changed = differences({"optimizer": saved.get("optimizer")}, {"optimizer": current.get("optimizer")})
        raise ConfigError(
            "Cannot resume: this config groups the optimizer's parameters otherwise than the "
            f"checkpoint ({'; '.join(changed) or f'{saved_groups} against {groups}'}).",
            "resume with the optimizer settings the checkpoint was saved with (set them back), or start a new run.",
        )


def truncate_metrics(path: Path, last_epoch: int) -> None:
    """Drop rows after ``last_epoch`` (epochs the resumed run will train again), and rows
    that are not an epoch's (a damaged line), naming those in one warning line."""
    if not path.is_file():
        return
    with open(path, newline="", errors="replace") as f:
        rows = list(csv.reader(f))
    if not rows:
        return
    damaged = [number for number, r in enumerate(rows[1:], start=2) if r and not r[0].strip().isdigit()]
    if damaged:
        say(
            f"gnnexp: warning: {path} row{'s' if len(damaged) > 1 else ''} {', '.join(map(str, damaged))} "
            "of no epoch (a damaged line) dropped.\n"
        )
    kept = [rows[0]] + [r for r in rows[1:] if r and r[0].strip().isdigit() and int(r[0]) <= last_epoch]
    if len(kept) == len(rows):
        return
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", newline="") as f:
        csv.writer(f).writerows(kept)
    os.replace(tmp, path)


def resume_args(args: list[str], trusted: bool = False) -> list[str]:
    """Rewrite ``gnnexp train`` arguments that ask to resume a run.

    The original run's overrides come first (so ``trainer.resume=latest`` alone continues
    the same experiment), the user's new ones after them; the output goes back into the
    original run dir, with this invocation's Hydra files under ``.hydra/resume``.
    """
    values = [_value(a) for a in args if a.startswith("trainer.resume=")]
    if not values or values[-1] in ("", "null"):
        return args
    if "-m" in args or "--multirun" in args:
        raise ConfigError("trainer.resume continues one run and cannot be swept.", "drop -m.")
    run_dir, checkpoint = resolve_resume(values[-1])
    rest = [a for a in args if not a.startswith("trainer.resume=")]
    # Quoted: a path may hold spaces, brackets, commas, =, # or letters Hydra's grammar refuses.
    extra = [override("trainer.resume", checkpoint)]
    if not any(a.startswith("hydra.run.dir=") for a in rest):
        extra += [override("hydra.run.dir", run_dir), "hydra.output_subdir=.hydra/resume"]
    given = {_key(a) for a in rest}
    kept = [o for o in original_overrides(run_dir) if _key(o) not in given]  # the user's new value wins
    if not trusted:
        _refuse_code(kept, run_dir)
    return [*kept, *rest, *extra]


def _value(arg: str) -> str:
    """The value of ``key=value`` as Hydra reads it (quotes removed), or the raw text after
    ``=`` when Hydra's grammar refuses it (an unquoted path with spaces or accents)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import OverrideParseException

    try:
        value = OverridesParser.create().parse_overrides([arg])[0].value()
    except (OverrideParseException, ValueError):
        value = None
    return value if isinstance(value, str) else arg.split("=", 1)[1]


def _refuse_code(overrides: list[str], run_dir: Path) -> None:
    """The run's own overrides are read from a file: code they name is not imported, and
    interpolations in them are not resolved (``${oc.env:...}`` would read the environment)."""
    for text in overrides:
        key = _key(text)
        parts = key.split(".")  # _key has dropped any + or ~
        if parts[-1] == "_target_" or parts[0] == "imports":  # imports.0=... too
            raise ConfigError(
                f"{run_dir}/.hydra/overrides.yaml names code to import ({text}); gnnexp does not "
                "import code named only inside a file.",
                f"if you trust this run, repeat it on the command line ({text}) or add --trust-config.",
            )
        if "${" in text:
            raise ConfigError(
                f"{run_dir}/.hydra/overrides.yaml holds an interpolation ({_shown(text)}); gnnexp resolves "
                "none read from a file.",
                "if you trust this run, repeat that override on the command line or add --trust-config.",
            )


# Settings that decide which data a run trains and is evaluated on: a resumed run that
# changed them would continue on another split, and its numbers would mean nothing.
DATA_SETTINGS = ("dataset.", "task.val_ratio", "task.test_ratio", "task.split_seed", "trainer.folds")


def check_same_data(old: dict[str, Any], new: dict[str, Any]) -> None:
    """Refuse to resume with any data or split setting changed, naming them."""
    changed = [d for d in differences(old, new) if d.startswith(DATA_SETTINGS)]
    if changed:
        raise ConfigError(
            f"Resuming with other data or split settings would continue on another split: {'; '.join(changed)}.",
            "resume with the run's own data settings, or start a new run.",
        )


def _key(override: str) -> str:
    return override.split("=", 1)[0].lstrip("+~")
