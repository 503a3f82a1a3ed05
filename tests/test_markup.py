"""What users typed reaches the terminal as typed: rich must not read ``[csv,wandb]`` as markup."""

from __future__ import annotations

import io
import json

import yaml
from rich.console import Console

from gnnexp.reporting.console import key_value_panel
from gnnexp.search.outcome import BEST_FILE, print_study

TYPED = "logger=[csv,wandb]"


def _job(path, overrides, acc):
    (path / ".hydra").mkdir(parents=True)
    (path / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    results = {
        "status": "completed",
        "metric": "accuracy",
        "val": {"accuracy": acc},
        "test": {"accuracy": acc},
    }
    (path / "results.json").write_text(json.dumps(results))


def test_summarize_shows_list_overrides_as_typed(gnnexp, tmp_path):
    _job(tmp_path / "sweep" / "0", ["model=gcn", "logger=[csv]"], 0.5)
    _job(tmp_path / "sweep" / "1", ["model=gcn", TYPED], 0.6)
    _job(tmp_path / "sweep" / "2", ["model=gat", TYPED, "+tags=[a]"], 0.7)
    table = gnnexp(str(tmp_path / "sweep"), command="summarize")
    assert table.code == 0, table.err
    assert "logger=[csv] " in table.out and f"{TYPED} " in table.out and "+tags=[a]" in table.out
    assert "logger= " not in table.out


def test_search_outcome_prints_the_retrain_command_whole(tmp_path):
    command = f"gnnexp train hparams_search=cora_optuna '{TYPED}' optimizer.lr=0.01 hydra.mode=RUN"
    (tmp_path / BEST_FILE).write_text(
        yaml.safe_dump({"trial": 0, "test": {"accuracy": 0.8}, "command": command})
    )
    record = {
        "study": "cora",
        "counts": {"complete": 1},
        "directions": ["maximize"],
        "objectives": ["val_accuracy"],
        "trials": [
            {"number": 0, "state": "complete", "interrupted": False, "values": [0.8], "last_epoch": 3,
             "params": {"logger": "[csv,wandb]"}},
        ],
    }  # fmt: skip
    out = io.StringIO()
    print_study(record, Console(file=out, width=300), tmp_path)
    text = out.getvalue()
    assert f"re-train it: {command}" in text
    assert "[csv,wandb]" in text.split("re-train it")[0]  # the table's parameter cell too


def test_panels_show_paths_with_brackets():
    out = io.StringIO()
    Console(file=out, width=200).print(key_value_panel("run", {"output": "runs/[exp]/a", "logger": TYPED}))
    assert "runs/[exp]/a" in out.getvalue() and TYPED in out.getvalue()
