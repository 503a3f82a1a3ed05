"""Command-line handling: Hydra flags anywhere, ``gnnexp list`` text, and shell completion."""

from __future__ import annotations

from pathlib import Path

import pytest

from gnnexp.cli import main
from gnnexp.commands.completion import is_schema
from gnnexp.commands.hydra_argv import hydra_order


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (["model=gcn", "seed=1"], ["model=gcn", "seed=1"]),
        (
            ["model=gcn", "--config-dir", "my conf", "seed=1", "-m"],
            ["--config-dir", "my conf", "-m", "model=gcn", "seed=1"],
        ),
        (
            ["a=1", "-cd", "d", "b=2", "--cfg", "job", "c=3", "-p", "model", "--resolve"],
            ["-cd", "d", "--cfg", "job", "-p", "model", "--resolve", "a=1", "b=2", "c=3"],
        ),
        (["a=1", "--config-dir=d", "b=2", "-cn=other"], ["--config-dir=d", "-cn=other", "a=1", "b=2"]),
        (
            ["+a=1", "--config-path", "p", "~b", "-c", "all"],
            ["--config-path", "p", "-c", "all", "+a=1", "~b"],
        ),
        (["a=1", "--experimental-rerun", "x.pickle"], ["--experimental-rerun", "x.pickle", "a=1"]),
        (["a=1", "-sc", "query=bash"], ["-sc", "a=1", "query=bash"]),
        (
            ["a=1", "--hydra-help", "b=2", "--version", "-h"],
            ["--hydra-help", "--version", "-h", "a=1", "b=2"],
        ),
        (["a=1", "-r", "--shell-completion", "--help"], ["-r", "--shell-completion", "--help", "a=1"]),
        # --info takes a value only when one of its choices follows.
        (["a=1", "--info", "defaults", "b=2"], ["--info", "defaults", "a=1", "b=2"]),
        (["--info", "a=1", "b=2"], ["a=1", "b=2", "--info"]),
        (["a=1", "-i"], ["a=1", "-i"]),
        # A flag missing its value stays last, where Hydra reports it instead of eating an override.
        (["a=1", "--config-dir"], ["a=1", "--config-dir"]),
        (["--info", "a=1", "-cd"], ["a=1", "--info", "-cd"]),
        ([], []),
    ],
)
def test_hydra_order_puts_flags_first_and_keeps_relative_order(given: list[str], expected: list[str]) -> None:
    assert hydra_order(given) == expected


def my_conf(tmp_path: Path) -> Path:
    """A config dir with one extra model, so a test can see that --config-dir took effect."""
    conf = tmp_path / "myconf"
    (conf / "model").mkdir(parents=True)
    (conf / "model" / "tiny.yaml").write_text(
        "# Tiny: a GCN with [4] hidden channels\ndefaults:\n  - gcn\n  - _self_\nhidden_channels: 4\n"
    )
    (conf / "model" / "base_mine.yaml").write_text("# my own schema\nname: ???\n")
    return conf


def test_train_accepts_config_dir_after_an_override(gnnexp, tmp_path: Path) -> None:
    conf = my_conf(tmp_path)
    result = gnnexp("model=tiny", "--config-dir", str(conf), "seed=3", "--cfg", "job")
    assert result.code == 0, result.err
    assert "unrecognized arguments" not in result.err
    assert "hidden_channels: 4" in result.out and "name: gcn" in result.out
    assert "\nseed: 3\n" in result.out


def test_train_accepts_equals_forms_and_bare_info_between_overrides(gnnexp, tmp_path: Path) -> None:
    conf = my_conf(tmp_path)
    result = gnnexp("seed=5", f"--config-dir={conf}", "model=tiny", "--cfg=job", "trainer.max_epochs=2")
    assert result.code == 0, result.err
    assert "hidden_channels: 4" in result.out and "\nseed: 5\n" in result.out
    assert "max_epochs: 2" in result.out
    info = gnnexp("model=gcn", "--info", "seed=5")
    assert info.code == 0, info.err
    assert "Installed Hydra Plugins" in info.out


def test_train_reports_a_flag_without_its_value(capsys) -> None:
    code = main(["train", "model=gcn", "seed=1", "--config-dir"])  # the fixture would add an override
    err = capsys.readouterr().err
    assert code == 2
    assert "unrecognized arguments" not in err
    assert "argument --config-dir/-cd: expected one argument" in err


def test_list_prints_bracketed_descriptions_verbatim(gnnexp, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "250")  # one line per option, so phrases are not wrapped apart
    listed = gnnexp("logger", command="list")
    assert listed.code == 0, listed.err
    assert "(needs the [mlflow] extra)" in listed.out
    assert "(needs the [tensorboard] extra)" in listed.out
    assert "logger=[csv,...] reads naturally" in listed.out
    mine = gnnexp("model", "--config-dir", str(my_conf(tmp_path)), command="list")
    assert mine.code == 0, mine.err
    assert "Tiny: a GCN with [4] hidden channels" in mine.out


def test_list_hides_internal_schemas(gnnexp, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "250")
    listed = gnnexp("--config-dir", str(my_conf(tmp_path)), command="list")
    assert listed.code == 0, listed.err
    assert "gcn*" in listed.out and "tiny" in listed.out
    assert "base_" not in listed.out


def complete(line: str, monkeypatch, capsys) -> list[str]:
    """The candidates the bash function of ``gnnexp completion bash`` gets for ``line``."""
    monkeypatch.setenv("COMP_LINE", line)
    monkeypatch.setenv("COMP_POINT", str(len(line)))
    code = main(["train", "-sc", "query=bash"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return out.split()


def test_completion_offers_options_but_no_schemas(monkeypatch, capsys) -> None:
    models = complete("gnnexp model=", monkeypatch, capsys)
    assert {"model=gcn", "model=gat", "model=sage"} <= set(models)
    assert not [c for c in models if "base_" in c]
    datasets = complete("gnnexp model=gcn dataset=", monkeypatch, capsys)
    assert "dataset=cora" in datasets and not [c for c in datasets if "base_" in c]
    groups = complete("gnnexp ", monkeypatch, capsys)
    assert "model=" in groups and not [c for c in groups if "base_" in c]


def test_completion_with_a_flag_between_overrides(monkeypatch, capsys) -> None:
    line = "gnnexp model=gcn --cfg job optimizer=a"
    assert complete(line, monkeypatch, capsys) == ["optimizer=adam", "optimizer=adamw"]


def test_is_schema() -> None:
    assert is_schema("model=base_gat") and is_schema("+dataset=base_tu")
    assert not is_schema("model=gat") and not is_schema("model=") and not is_schema("base_lr=")
