"""The configs ship inside the wheel, so a non-editable install works anywhere."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import yaml

from tests.conftest import REPO


def test_wheel_ships_configs_and_composes_without_the_checkout(tmp_path):
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(REPO),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("gnnexp-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "gnnexp/conf/config.yaml" in names
    assert "gnnexp/conf/model/gat.yaml" in names
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); import gnnexp, gnnexp.paths as p;"
        "assert gnnexp.__file__.startswith(sys.argv[1]), gnnexp.__file__;"
        "print(p.config_dir(), file=sys.stderr);"
        "from gnnexp.cli import main; sys.exit(main(['train', '--cfg', 'job', 'model=gat']))"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [sys.executable, "-c", code, str(site)], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert Path(done.stderr.strip()) == site / "gnnexp" / "conf"
    assert yaml.safe_load(done.stdout)["model"]["heads"] == 8
