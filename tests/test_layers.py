"""Config and component declarations stay torch-free at import time.

import-linter (the contracts in pyproject.toml) counts imports inside functions too, and the
component declarations import torch in their build methods; what must hold is that importing
them, and ``gnnexp list``, loads neither torch nor torch_geometric.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TORCH_FREE = (
    "gnnexp.config.compose",
    "gnnexp.config.validate",
    "gnnexp.config.explain",
    "gnnexp.models.archs",
    "gnnexp.models.conv_archs",
    "gnnexp.models.gps_arch",
    "gnnexp.data.datasets",
    "gnnexp.tasks.kinds",
    "gnnexp.training.optimizers",
    "gnnexp.training.schedulers",
    "gnnexp.loggers.kinds",
)


def imported_modules(*args: str) -> set[str]:
    """The modules ``python -X importtime *args`` loads (the run must succeed)."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, (str(REPO), os.environ.get("PYTHONPATH")))),
    }
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", *args], capture_output=True, text=True, env=env, cwd=REPO
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return {
        line.rsplit("|", 1)[1].strip()
        for line in proc.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }


def torch_modules(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in ("torch", "torch_geometric"))


def test_declarations_import_no_torch():
    modules = imported_modules("-c", f"import {', '.join(TORCH_FREE)}")
    assert set(TORCH_FREE) <= modules
    assert torch_modules(modules) == []


def test_list_imports_no_torch():
    modules = imported_modules("-m", "gnnexp", "list")
    assert "gnnexp.cli" in modules
    assert torch_modules(modules) == []
