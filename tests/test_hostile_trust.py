"""Hostile inputs, round 3: files that would run code, data that would be silently wrong, and
paths Hydra's grammar refuses. Each case checks the exit code, the one line on stderr (or the
right result) and the hashes of every file before and after: nothing lost or overwritten."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import struct
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from gnnexp.cli import main
from tests.conftest import FAST


def _hashes(root: Path, skip: Callable[[Path], bool] = lambda p: False) -> dict[str, str]:
    return {
        str(p): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != ".gnnexp.lock" and not skip(p)
    }


@dataclass
class Outcome:
    code: int
    out: str
    err: str

    @property
    def lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.strip()]


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> Outcome:
    capsys.readouterr()
    code = main(list(args))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return Outcome(code, out, err)


def _refused(outcome: Outcome, code: int, *fragments: str) -> None:
    assert outcome.code == code, outcome.err
    assert len(outcome.lines) == 1, outcome.err
    assert outcome.lines[0].startswith("gnnexp: error: ")
    for fragment in fragments:
        assert fragment in outcome.lines[0], outcome.lines[0]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Path:
    run = tmp_path_factory.mktemp("finished") / "run"
    assert main(["train", *FAST, "trainer.max_epochs=3", f"hydra.run.dir={run}"]) == 0
    return run


# ------------------------------------------------------------ overrides.yaml is data


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ("--experimental-rerun=/tmp/job.pickle", "is not a key=value override"),
        ("--cfg=job", "is not a key=value override"),
        ("model.hidden_channels=${oc.env:HOME}", "holds an interpolation"),
        ("model.dropout='${oc.env:GNNEXP_SECRET}'", "holds an interpolation"),
        ("hydra.run.dir=/tmp/x --experimental-rerun=y", "is not a key=value override"),
        ("just words", "is not a key=value override"),
    ],
)
def test_resume_reads_overrides_as_data(line, fragment, finished_run, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("GNNEXP_SECRET", "hunter2")
    copy = tmp_path / "copy"
    shutil.copytree(finished_run, copy)
    overrides = copy / ".hydra" / "overrides.yaml"
    overrides.write_text(overrides.read_text() + f"- {json.dumps(line)}\n")
    before = _hashes(tmp_path)
    outcome = _run(capsys, "train", f"trainer.resume={copy}", "trainer.max_epochs=5")
    _refused(outcome, 2, fragment, str(copy))
    assert "hunter2" not in outcome.out + outcome.err
    assert _hashes(tmp_path) == before


def test_trust_config_lets_a_trusted_interpolation_through(finished_run, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("GNNEXP_EPOCHS", "5")
    copy = tmp_path / "copy"
    shutil.copytree(finished_run, copy)
    overrides = copy / ".hydra" / "overrides.yaml"
    overrides.write_text(overrides.read_text() + "- trainer.max_epochs=${oc.env:GNNEXP_EPOCHS}\n")
    outcome = _run(capsys, "train", f"trainer.resume={copy}", "--trust-config")
    assert outcome.code == 0, outcome.err
    assert json.loads((copy / "results.json").read_text())["epochs_run"] == 5


# ------------------------------------------------------------ paths Hydra's grammar refuses

# A path holding "${" stays out: Hydra itself resolves the run dir twice (its log file's name).
ODD = "é a[1],b=c#d;~e 'q'"


def test_a_run_in_an_oddly_named_dir_is_resumed(tmp_path, capsys, data_dir):
    from gnnexp.running.resume import override

    run = tmp_path / ODD
    first = _run(capsys, "train", *FAST, "trainer.max_epochs=3", override("hydra.run.dir", run))
    assert first.code == 0, first.err
    assert json.loads((run / "results.json").read_text())["epochs_run"] == 3
    raw = f"trainer.resume={run}"  # as a shell passes a quoted path: unquoted for Hydra
    resumed = _run(capsys, "train", raw, "trainer.max_epochs=5")
    assert resumed.code == 0, resumed.err
    assert json.loads((run / "results.json").read_text())["epochs_run"] == 5
    assert [p.name for p in tmp_path.iterdir()] == [ODD]  # no second directory


def test_a_search_in_an_oddly_named_sweep_dir_runs_its_trials_there(tmp_path, capsys, data_dir):
    from gnnexp.running.resume import override
    from tests.test_search import DATA, TINY

    (tmp_path / "conf" / "hparams_search").mkdir(parents=True)
    (tmp_path / "conf" / "hparams_search" / "tiny.yaml").write_text(TINY)
    sweep = tmp_path / ODD
    args = ["-m", "--config-dir", str(tmp_path / "conf"), "hparams_search=tiny", *DATA]
    outcome = _run(
        capsys,
        "train",
        *args,
        "trainer.max_epochs=3",
        "hydra.sweeper.n_trials=2",
        override("hydra.sweep.dir", sweep),
    )
    assert outcome.code == 0, outcome.err
    assert sorted(p.name for p in sweep.glob("trial_*")) == ["trial_0", "trial_1"]
    assert all((p / "results.json").is_file() for p in sweep.glob("trial_*"))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["conf", ODD])


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("a b", "a b"),
        ("a'b\\", "a'b\\"),
        ("x\\'y", "x\\'y"),
        ("${oc.env:HOME}", "${oc.env:HOME}"),
        ("~/é,[]=#;", "~/é,[]=#;"),
    ],
)
def test_override_quotes_any_value(value, expected):
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from omegaconf import OmegaConf

    from gnnexp.running.resume import override

    parsed = OverridesParser.create().parse_overrides([override("k", value)])[0]
    assert OmegaConf.create({"k": parsed.value()}).k == expected


# ------------------------------------------------------------ processed files are not unpickled


class _Marker:
    """A pickle that, unpickled in full, creates the file it names."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (open, (str(self.path), "w"))


def _cora(tmp_path: Path) -> Path:
    """A private data dir with Cora's raw files, its processed files built by gnnexp."""
    import os

    data = tmp_path / "data"
    shutil.copytree(
        Path(os.environ["GNNEXP_DATA_DIR"]) / "Planetoid" / "Cora" / "raw",
        data / "Planetoid" / "Cora" / "raw",
    )
    return data


def _train_cora(capsys, data: Path, run: Path) -> Outcome:
    from gnnexp.data.loading import clear_cache

    clear_cache()  # the process's cache would hide what loading does
    return _run(
        capsys, "train", "dataset=cora", "trainer.max_epochs=2", f"data_dir={data}", f"hydra.run.dir={run}"
    )


@pytest.mark.parametrize("planted", ["data.pt", "pre_transform.pt", "pre_filter.pt", "extra.pt"])
def test_a_planted_pickle_in_processed_is_rebuilt_not_run(planted, tmp_path, capsys):
    import torch

    data = _cora(tmp_path)
    assert _train_cora(capsys, data, tmp_path / "clean").code == 0
    processed = data / "Planetoid" / "Cora" / "processed"
    clean = _hashes(processed)
    raw = _hashes(data / "Planetoid" / "Cora" / "raw")
    marker = tmp_path / "MARKER"
    torch.save(_Marker(marker), processed / planted)
    outcome = _train_cora(capsys, data, tmp_path / "after")
    assert outcome.code == 0, outcome.err
    assert not marker.exists(), "a pickle in processed/ ran code"
    assert _hashes(processed) == clean  # rebuilt from the raw files, the planted file gone
    assert _hashes(data / "Planetoid" / "Cora" / "raw") == raw
    first = json.loads((tmp_path / "clean" / "results.json").read_text())
    again = json.loads((tmp_path / "after" / "results.json").read_text())
    assert again["test"] == first["test"]  # the same dataset, the same seeded run


def test_a_pickle_with_a_forged_record_is_refused_not_run(tmp_path, capsys):
    import torch

    data = _cora(tmp_path)
    assert _train_cora(capsys, data, tmp_path / "clean").code == 0
    processed = data / "Planetoid" / "Cora" / "processed"
    marker = tmp_path / "MARKER"
    torch.save(_Marker(marker), processed / "data.pt")
    record = json.loads((processed / "gnnexp-sha256.json").read_text())
    record["data.pt"] = hashlib.sha256((processed / "data.pt").read_bytes()).hexdigest()
    (processed / "gnnexp-sha256.json").write_text(json.dumps(record))
    before = _hashes(tmp_path, skip=lambda p: "after" in p.parts)
    outcome = _train_cora(capsys, data, tmp_path / "after")
    _refused(outcome, 2, "is not plain data", str(processed))
    assert not marker.exists(), "a pickle in processed/ ran code"
    assert _hashes(tmp_path, skip=lambda p: "after" in p.parts) == before


def test_a_changed_processed_file_is_rebuilt(tmp_path, capsys):
    data = _cora(tmp_path)
    assert _train_cora(capsys, data, tmp_path / "clean").code == 0
    processed = data / "Planetoid" / "Cora" / "processed"
    clean = _hashes(processed)
    blob = bytearray((processed / "data.pt").read_bytes())
    blob[len(blob) // 2] ^= 0x40
    (processed / "data.pt").write_bytes(bytes(blob))
    outcome = _train_cora(capsys, data, tmp_path / "after")
    assert outcome.code == 0, outcome.err
    assert _hashes(processed) == clean


def test_an_unremovable_unverified_processed_dir_is_refused(tmp_path, capsys, monkeypatch):
    from types import SimpleNamespace

    from gnnexp.data import processed as processed_module

    data = _cora(tmp_path)
    assert _train_cora(capsys, data, tmp_path / "clean").code == 0
    processed = data / "Planetoid" / "Cora" / "processed"
    (processed / "gnnexp-sha256.json").unlink()

    def denied(path, *args, **kwargs):  # a shared dir this user cannot change (tests may run as root)
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(processed_module, "shutil", SimpleNamespace(rmtree=denied))
    before = _hashes(tmp_path, skip=lambda p: "after" in p.parts)
    outcome = _train_cora(capsys, data, tmp_path / "after")
    _refused(outcome, 2, "gnnexp did not write", "cannot remove them", f"delete {processed}")
    assert _hashes(tmp_path, skip=lambda p: "after" in p.parts) == before


def test_ogb_questions_never_read_the_terminal(monkeypatch):
    import contextlib

    from gnnexp.data.ogb_sets import _Answers

    monkeypatch.setattr(sys, "stdin", None)  # reading the real stdin would fail here
    chatter = io.StringIO()
    with contextlib.redirect_stdout(chatter), _Answers.instead_of_stdin(chatter):
        assert input("This will download 2.50GB. Will you proceed? (y/N)\n") == "y"
        with pytest.raises(EOFError):
            input("Will you update the dataset now? (y/N)\n")
    assert sys.stdin is None


# ------------------------------------------------------------ the SMILES cache


def _smiles_cfg(path: Path, target: str = "regression"):
    from omegaconf import OmegaConf

    return OmegaConf.create(
        {"name": "m", "path": str(path), "smiles": "smiles", "targets": ["y"], "invalid": "skip",
         "split": "random", "target": target}
    )  # fmt: skip


MOLECULES = "smiles,y\nCCO,4.9\nCCN,1.5\nc1ccccc1,2.25\nCC,0.5\nCCC,3.0\n"


@pytest.mark.parametrize("damage", ["flip the target", "truncate", "garbage", "drop the record"])
def test_a_damaged_smiles_cache_is_rebuilt(damage, tmp_path):
    pytest.importorskip("rdkit")
    from gnnexp.data.molecules import load_smiles

    (tmp_path / "m.csv").write_text(MOLECULES)
    first = load_smiles(_smiles_cfg(tmp_path / "m.csv"), tmp_path / "data")
    (cache,) = (tmp_path / "data" / "smiles").glob("*.pt")
    blob = bytearray(cache.read_bytes())
    if damage == "flip the target":
        at = bytes(blob).index(struct.pack("<f", 4.9))
        blob[at + 3] ^= 0x10  # the exponent: 4.9 would read as about 1.3e+05
        cache.write_bytes(bytes(blob))
    elif damage == "truncate":
        cache.write_bytes(bytes(blob[: len(blob) // 2]))
    elif damage == "garbage":
        cache.write_bytes(b"\x80\x04not a pickle")
    else:
        cache.with_suffix(".sha256").unlink()
    again = load_smiles(_smiles_cfg(tmp_path / "m.csv"), tmp_path / "data")
    ys = [float(g.y.view(-1)[0]) for g in again.graphs]
    assert ys == pytest.approx([4.9, 1.5, 2.25, 0.5, 3.0])
    assert ys == [float(g.y.view(-1)[0]) for g in first.graphs]


# ------------------------------------------------------------ data that would be silently wrong

CLASSES = ("dataset.target=classification", "dataset.metric=accuracy")


def _smiles(text: str | bytes, *more: str) -> Callable[[Path], list[str]]:
    def setup(tmp: Path) -> list[str]:
        path = tmp / "m.csv"
        path.write_bytes(text) if isinstance(text, bytes) else path.write_text(text)
        return [
            "dataset=smiles",
            f"dataset.path={path}",
            "dataset.targets=[y]",
            "dataset.split=random",
            *more,
        ]

    return setup


def _labels(text: str) -> Callable[[Path], list[str]]:
    def setup(tmp: Path) -> list[str]:
        (tmp / "edges.csv").write_text("source,target\n0,1\n1,2\n2,3\n3,0\n")
        (tmp / "y.csv").write_text(text)
        return ["dataset=files", f"dataset.edges={tmp / 'edges.csv'}", f"dataset.labels={tmp / 'y.csv'}"]

    return setup


REFUSED = [
    (
        "class 0.5",
        _smiles("smiles,y\nCCO,0\nCCN,0.5\nCC,1\nCCC,0\n", *CLASSES),
        ["the class of CCN is y=0.5"],
    ),
    ("class -1", _smiles("smiles,y\nCCO,-1\nCCN,1\nCC,1\n", *CLASSES), ["the class of CCO is y=-1"]),
    ("class 1e12", _smiles("smiles,y\nCCO,1e12\nCCN,1\nCC,1\n", *CLASSES), ["y=1e+12, not one of 0, 1, 2"]),
    ("target inf", _smiles("smiles,y\nCCO,0\nCCN,inf\n"), ["row 3: y='inf' is not a finite 32-bit number"]),
    (
        "target 1e39",
        _smiles("smiles,y\nCCO,0\nCCN,1e39\n"),
        ["row 3: y='1e39' is not a finite 32-bit number"],
    ),
    (
        "empty column",
        lambda tmp: [
            *_smiles(
                "smiles,y,z\nCCO,0,\nCCN,1,\nCC,1,\n", *CLASSES, "dataset.metric=roc_auc", "task.loss=bce"
            )(tmp),
            "dataset.targets=[y,z]",
        ],
        ["the target column z holds no value"],
    ),
    ("latin-1", _smiles("smiles,y\nCCO,0\nC\xe9C,1\n".encode("latin-1")), ["m.csv is not UTF-8 text (byte"]),
    (
        "missing molecules",
        lambda tmp: [*_smiles("")(tmp)[:1], f"dataset.path={tmp / 'gone.csv'}", "dataset.targets=[y]"],
        ["gone.csv does not exist"],
    ),
    ("files class 0.5", _labels("label\n0\n0.5\n1\n0\n"), ["class label 0.5 is not a non-negative integer"]),
    ("files class -1", _labels("label\n0\n-1\n1\n0\n"), ["class label -1.0 is not a non-negative integer"]),
    ("files label inf", _labels("label\n0\ninf\n1\n0\n"), ["the label is inf"]),
    ("files class 1e12", _labels("label\n0\n1e12\n1\n0\n"), ["is not below the number of nodes"]),
    (
        "more classes than nodes",
        lambda tmp: ["dataset=synthetic", "dataset.num_nodes=10", "dataset.num_classes=20"],
        ["dataset.num_classes=20 exceeds dataset.num_nodes=10"],
    ),
]


@pytest.mark.parametrize(("name", "setup", "fragments"), REFUSED, ids=[c[0] for c in REFUSED])
def test_data_that_would_be_silently_wrong_is_refused(
    name, setup, fragments, tmp_path, capsys, monkeypatch, data_dir
):
    if "dataset=smiles" in setup(tmp_path):
        pytest.importorskip("rdkit")
    monkeypatch.chdir(tmp_path)
    args = setup(tmp_path)
    before = _hashes(tmp_path)
    outcome = _run(capsys, "train", *args, "trainer.max_epochs=2", f"hydra.run.dir={tmp_path / 'new-run'}")
    _refused(outcome, 2, *fragments)
    assert _hashes(tmp_path, skip=lambda p: "new-run" in p.parts) == before
    assert not list((tmp_path / "new-run").rglob("results.json"))


def test_a_bom_prefixed_csv_reads_as_without_it(tmp_path, capsys, data_dir):
    (tmp_path / "edges.csv").write_bytes(
        b"\xef\xbb\xbfsource,target\n" + b"".join(b"%d,%d\n" % (i, (i + 1) % 30) for i in range(30))
    )
    (tmp_path / "y.csv").write_bytes(b"\xef\xbb\xbflabel\n" + b"".join(b"%d\n" % (i % 3) for i in range(30)))
    args = [
        "dataset=files",
        f"dataset.edges={tmp_path / 'edges.csv'}",
        f"dataset.labels={tmp_path / 'y.csv'}",
    ]
    outcome = _run(capsys, "train", *args, "trainer.max_epochs=2", f"hydra.run.dir={tmp_path / 'run'}")
    assert outcome.code == 0, outcome.err
    assert json.loads((tmp_path / "run" / "results.json").read_text())["epochs_run"] == 2


def test_a_bom_prefixed_molecule_file_reads_as_without_it(tmp_path):
    pytest.importorskip("rdkit")
    from gnnexp.data.molecules import load_smiles

    (tmp_path / "bom.csv").write_bytes(b"\xef\xbb\xbf" + MOLECULES.encode())
    data = load_smiles(_smiles_cfg(tmp_path / "bom.csv"), tmp_path / "data")
    assert [float(g.y.view(-1)[0]) for g in data.graphs] == pytest.approx([4.9, 1.5, 2.25, 0.5, 3.0])


def test_use_edge_attr_false_drops_the_edge_features(tmp_path, capsys, data_dir):
    from gnnexp.data.loading import clear_cache

    clear_cache()
    gine = _run(capsys, "train", "dataset=mutag", "model=gine", "dataset.use_edge_attr=false",
                "trainer.max_epochs=1", f"hydra.run.dir={tmp_path / 'gine'}")  # fmt: skip
    _refused(gine, 2, "gine needs edge features")
    gin = _run(capsys, "train", "dataset=mutag", "model=gin", "dataset.use_edge_attr=false",
               "trainer.max_epochs=1", f"hydra.run.dir={tmp_path / 'gin'}")  # fmt: skip
    assert gin.code == 0, gin.err
    assert "4 per edge" not in gin.out
    with_edges = _run(capsys, "train", "dataset=mutag", "model=gine", "trainer.max_epochs=1",
                      f"hydra.run.dir={tmp_path / 'with'}")  # fmt: skip
    assert with_edges.code == 0 and "4 per edge" in with_edges.out


def test_the_documented_ogbg_form_composes(capsys):
    outcome = _run(
        capsys, "train", "dataset=ogbg", "dataset.ogb_name=ogbg-molbace", "--cfg", "job", "--resolve"
    )
    assert outcome.code == 0, outcome.err
    assert "name: ogbg-molbace" in outcome.out and "source: ogbg" in outcome.out
