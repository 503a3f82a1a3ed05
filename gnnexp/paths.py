"""Where configs, data and outputs live."""

from __future__ import annotations

from pathlib import Path

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
