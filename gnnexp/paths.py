"""Where configs, data and outputs live."""

from __future__ import annotations

from pathlib import Path

from gnnexp.errors import GnnexpError

# Each run's per-epoch table (written by gnnexp.reporting.files.MetricsCSV).
METRICS_FILE = "metrics.csv"

DATA_DIR_ENV = "GNNEXP_DATA_DIR"


def config_dir() -> Path:
    """The packaged configs: ``gnnexp/conf`` in a wheel, ``conf/`` in a source checkout."""
    package = Path(__file__).resolve().parent
    for candidate in (package / "conf", package.parent / "conf"):
        if (candidate / "config.yaml").is_file():
            return candidate
    raise FileNotFoundError(f"gnnexp configs not found next to {package}; reinstall gnnexp")


def resolve_data_dir(configured: str) -> Path:
    """The data directory as an absolute path (relative paths are taken from the cwd)."""
    return Path(configured).expanduser().resolve()


OUTPUTS = Path("outputs")


def latest(kind: str = "any", outputs: Path = OUTPUTS) -> Path:
    """The newest run (``runs``), sweep (``multirun``) or either under ``outputs``.

    Output dirs are ``outputs/{runs,multirun}/<date>/<time>...``; newest by modification time.
    """
    from gnnexp.errors import GnnexpError

    kinds = ("runs", "multirun") if kind == "any" else (kind,)
    candidates = [p for k in kinds for p in (outputs / k).glob("*/*") if p.is_dir()]
    if not candidates:
        raise GnnexpError(
            f"'latest' found no {' or '.join(kinds)} under {outputs.resolve()}.",
            "run gnnexp train first (from this directory), or give a path.",
        )
    return max(candidates, key=lambda p: p.stat().st_mtime)


def resolve_path(value: Path, kind: str = "any") -> Path:
    """``value``, or the newest run/sweep when it is the word ``latest``."""
    return latest(kind) if str(value) == "latest" else value


def existing_dirs(values: list[Path], kind: str, hint: str) -> list[Path]:
    """Each of ``values`` resolved (``latest``); a clear error naming those that are not directories."""
    dirs = [resolve_path(value, kind) for value in values]
    missing = [str(d) for d in dirs if not d.is_dir()]
    if missing:
        raise GnnexpError(f"not a directory: {', '.join(missing)}.", hint)
    return dirs


def fold_dir(index: int) -> str:
    """The directory of the fold with 0-based ``index``: fold_1 for the first (folds are
    numbered from 1 wherever a user sees them)."""
    return f"fold_{index + 1}"


def fold_number(path: Path) -> int | None:
    """The fold a ``fold_<n>`` directory holds (1 for the first), None for any other path."""
    prefix, _, number = path.name.partition("_")
    return int(number) if prefix == "fold" and number.isdigit() else None


def fold_dirs(run_dir: Path) -> list[Path]:
    """A cross-validated run's fold directories in fold order (fold_10 after fold_9)."""
    found = [p for p in run_dir.glob("fold_*") if p.is_dir() and fold_number(p) is not None]
    return sorted(found, key=lambda p: fold_number(p) or 0)
