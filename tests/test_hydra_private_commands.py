"""What the commands rely on from Hydra, each checked so that a Hydra release that changes it
fails here with a message naming what to fix.

The commands use no private Hydra API (gnnexp/config/hydra_private.py, section "used by the
commands"): they rely on documented behaviour, tested below.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gnnexp.cli import main

REPO = Path(__file__).resolve().parents[1]


def test_hydra_full_error_makes_hydra_main_raise(capsys, monkeypatch) -> None:
    # gnnexp.commands.train.our_errors sets HYDRA_FULL_ERROR=1 so that hydra.main raises its
    # composition errors instead of printing them; explain() then names them in one line.
    monkeypatch.delenv("HYDRA_FULL_ERROR", raising=False)
    code = main(["train", "--cfg", "job", "model=gatt"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, (
        "Hydra no longer raises with HYDRA_FULL_ERROR=1 (hydra._internal.utils.run_and_report): "
        f"gnnexp.commands.train.our_errors must catch its errors another way. stderr: {err}"
    )
    assert "Did you mean 'gat'?" in err and "HYDRA_FULL_ERROR" not in err
    assert "HYDRA_FULL_ERROR" not in os.environ  # restored after the call


def test_the_users_hydra_full_error_still_gets_the_trace() -> None:
    env = {**os.environ, "HYDRA_FULL_ERROR": "1", "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, "-m", "gnnexp", "train", "--cfg", "job", "model=gatt"],
        capture_output=True, text=True, env=env, cwd=REPO,
    )  # fmt: skip
    assert proc.returncode == 1 and "Traceback" in proc.stderr and "MissingConfigException" in proc.stderr


def test_bash_completion_reads_comp_line_and_prints_one_line(monkeypatch, capsys) -> None:
    # gnnexp.commands.train.completion_without_schemas reorders COMP_LINE and filters the
    # one line of candidates Hydra's bash plugin prints.
    monkeypatch.setenv("COMP_LINE", "gnnexp model=g")
    monkeypatch.setenv("COMP_POINT", "14")
    assert main(["train", "-sc", "query=bash"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1, f"Hydra's bash completion no longer prints one line: {out!r}"
    models = {p.stem for p in (REPO / "conf" / "model").glob("g*.yaml")}
    assert set(out.split()) == {f"model={m}" for m in models}, (
        "Hydra's bash completion no longer answers COMP_LINE with group=option words (or offers "
        f"the base_ schemas in a new form): {out!r}"
    )


def test_omegaconf_validation_errors_name_the_typed_node() -> None:
    # gnnexp.config.explain reads the value and the node's type, not the message text.
    from omegaconf import OmegaConf
    from omegaconf.errors import ValidationError
    from omegaconf.nodes import IntegerNode

    from gnnexp.config.schema import Config

    cfg = OmegaConf.structured(Config)
    with pytest.raises(ValidationError) as caught:
        cfg.seed = "abc"
    assert caught.value.value == "abc" and isinstance(caught.value.child_node, IntegerNode), (
        "OmegaConf's ValidationError no longer carries value/child_node: update gnnexp.config.explain._wrong_type"
    )


def test_experiment_presets_as_typed_and_with_plus(capsys) -> None:
    assert main(["train", "--cfg", "job", "experiment=gat_cora"]) == 0
    out = capsys.readouterr().out
    assert "heads: 8" in out and "max_epochs: 1000" in out and "val_loss_and_metric" in out
    assert main(["train", "--cfg", "job", "+experiment=gat_cora"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "write experiment=gat_cora (without +)" in err


def test_several_values_without_m_are_refused_before_hydra(capsys) -> None:
    assert main(["train", "--cfg", "job", "seed=0,1"]) == 2
    err = capsys.readouterr().err
    assert "seed=0,1 lists several values, which is a sweep" in err and "gnnexp train -m seed=0,1" in err
