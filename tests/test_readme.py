"""Every command the README and the pages under docs/ show works: each ``gnnexp`` line of
their bash blocks is run.

Lines run in order (the README first, then docs/ by file name), in one fresh working
directory (so ``latest`` means what it says), with tiny epoch counts appended; a line shown
on several pages runs once. Lines marked as needing internet, a GPU or a cluster are
skipped; the Python and YAML recipe for a new model (docs/extending.md) is run too. Every
relative link of these pages names a file that exists.
"""

from __future__ import annotations

import json
import math
import re
import shlex
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from gnnexp.cli import main
from tests.conftest import REPO

README = (REPO / "README.md").read_text()
# The README first: its tour makes the runs and sweeps that ``latest`` refers to.
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
SKIP_MARKERS = ("needs internet", "on a cluster", "GPUs")
# Heavy values, replaced for the test (the README shows the real ones).
SUBSTITUTIONS = {
    "dataset.num_nodes=1000000": "dataset.num_nodes=5000",
    "trainer.max_epochs=400": "trainer.max_epochs=3",
    # Sweeps keep their shape (every launcher, several models) with fewer seeds.
    "dataset=cora,citeseer seed=0,1,2,3,4": "dataset=cora,citeseer seed=0",
    "seed=range(0,10)": "seed=range(0,2)",
    "hydra/launcher=submitit_local model=gcn,gat seed=0,1": "hydra/launcher=submitit_local model=gcn,gat seed=0",
}


def blocks(language: str, text: str = README) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.S)


def commands() -> list[tuple[str, list[str]]]:
    """(where, arguments) of every command to run, each distinct command once."""
    found = []
    seen = set()
    for page in PAGES:
        text = page.read_text()
        for block in blocks("bash", text):
            for line in block.splitlines():
                if not line.startswith("gnnexp ") or any(marker in line for marker in SKIP_MARKERS):
                    continue
                command = line.split("  #")[0].strip()
                for old, new in SUBSTITUTIONS.items():
                    command = command.replace(old, new)
                if command in seen:
                    continue
                seen.add(command)
                where = f"{page.relative_to(REPO)} line {text[: text.index(line)].count(chr(10)) + 1}"
                found.append((where, shlex.split(command)[1:]))
    return found


def fast(args: list[str]) -> list[str]:
    """Tiny-epoch overrides for a training command (appended, so they win)."""
    if not args or args[0] != "train" or "--help" in args or "--cfg" in args:
        return args
    extra = ["trainer.max_epochs=2", "trainer.log_every=100"]
    if any(a.startswith("hparams_search=") for a in args):
        extra.append("hydra.sweeper.n_trials=2")
    return [*args, *extra]


def _json_files(root: Path) -> dict[Path, int]:
    """Every results.json of a run or job (a directory with .hydra/) and every eval.json under
    ``root/outputs``, with its modification time: written since a snapshot = changed entry."""
    found = {}
    for name in ("results.json", "eval.json"):
        for path in (root / "outputs").glob(f"**/{name}"):
            if (path.parent / ".hydra").is_dir():
                found[path] = path.stat().st_mtime_ns
    return found


def sweep_size(args: list[str]) -> int:
    """How many jobs ``train -m ARGS`` runs: the product of the comma lists and ranges, or
    the Optuna trial count."""
    size = 1
    for arg in args:
        key, _, value = arg.partition("=")
        if key == "hydra.sweeper.n_trials":
            return int(value)
        span = re.fullmatch(r"range\((\d+),(\d+)\)", value)
        if span:
            size *= int(span.group(2)) - int(span.group(1))
        elif "," in value and not value.startswith("["):
            size *= len(value.split(","))
    return size


def check_output(args: list[str], out: str, written: list[Path], cwd: Path, last_sweep: int) -> list[str]:
    """What the command must have produced, beyond exit status 0; the problems found."""
    problems = []
    results = [json.loads(p.read_text()) for p in written if p.name == "results.json"]
    command = args[0]
    if command == "train" and "--cfg" in args:
        problems += [] if yaml.safe_load(out)["model"]["name"] else ["--cfg job printed no model"]
        expected = 0
    elif command == "train" and "--help" in args:
        problems += [] if "== Configuration groups ==" in out and "model: " in out else ["no config groups"]
        expected = 0
    elif command == "train":
        expected = sweep_size(args) if "-m" in args else 1
        search = any(a.startswith("hparams_search=") for a in args)
        for r in results:  # the trials of a search are not tested: its best one is, in best.yaml
            value = r.get("val" if search else "test", {}).get(r.get("metric"))
            if (
                r["status"] not in ("completed", "pruned")
                or not isinstance(value, float)
                or not math.isfinite(value)
            ):
                problems.append(f"results.json: status {r['status']}, {r.get('metric')} {value}")
        if search:
            bests = [yaml.safe_load(p.read_text()) for p in cwd.glob("outputs/multirun/*/*/best.yaml")]
            if not any(math.isfinite(b.get("test", {}).get("accuracy", math.nan)) for b in bests):
                problems.append("no best.yaml with the best trial's test accuracy")
        if "-m" in args and not list(cwd.glob("outputs/multirun/*/*/summary.md")):
            problems.append("no summary.md")
    else:
        expected = 0
    if len(results) != expected:
        problems.append(f"{len(results)} results.json written, expected {expected}")
    if command == "eval":
        evals = [json.loads(p.read_text()) for p in written if p.name == "eval.json"]
        if len(evals) != 1 or "metrics written to" not in out:
            problems.append(f"{len(evals)} eval.json written")
    if "--out" in args:
        target = cwd / args[args.index("--out") + 1]
        if not target.is_file() or target.stat().st_size == 0:
            problems.append(f"{target.name} not written")
        elif target.suffix == ".png" and not target.read_bytes().startswith(b"\x89PNG"):
            problems.append(f"{target.name} is not a PNG")
        elif target.suffix == ".csv" and not (
            "prediction" in target.read_text().splitlines()[0] and len(target.read_text().splitlines()) > 2
        ):
            problems.append(f"{target.name} has no predictions")
    search = command == "summarize" and (cwd / args[1] / "study.json").is_file()
    if search:  # a hyperparameter search: trials by state, the best one and its command
        if f"{last_sweep} trials:" not in out or "re-train it: gnnexp train" not in out:
            problems.append(f"the search summary lacks the {last_sweep} trials or the best one's command")
    elif command == "summarize" and " ± " not in out:
        problems.append("no mean ± std in the summary")
    if command == "summarize" and not search and "--format" not in args and f"{last_sweep} jobs" not in out:
        problems.append(f"the summary does not count the latest sweep's {last_sweep} jobs")
    if (
        command == "summarize"
        and "markdown" in args
        and not re.search(r"\| config \|( metric \|)? n \| val", out)
    ):
        problems.append("no markdown table")
    if command in ("--help", "list"):
        wanted = ["usage: gnnexp"] if command == "--help" else ["gcn", "gat", "sage"]
        wanted += ["dataset", "trainer"] if args == ["list"] else []
        problems += [f"{w!r} not in the output" for w in wanted if w not in out]
    return problems


def test_the_readme_shows_the_two_setup_commands():
    quick_start = README.split("## Quick start")[1].split("##")[0]
    setup = [line.split("#")[0].strip() for line in blocks("bash")[0].splitlines() if line.strip()]
    assert setup == ["make train", "make test"]
    assert "make test" in quick_start and (REPO / ".ci" / "run").read_text().strip().endswith("make test")


def test_every_readme_command_runs(recipe, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    # The files the bring-your-own-data example names.
    rng = np.random.default_rng(0)
    (tmp_path / "edges.csv").write_text(
        "source,target\n" + "".join(f"{i},{(i * 7 + 1) % 60}\n" for i in range(60))
    )
    (tmp_path / "labels.csv").write_text("label\n" + "".join(f"{i % 3}\n" for i in range(60)))
    np.save(tmp_path / "x.npy", rng.normal(size=(60, 5)).astype(np.float32))
    from tests.test_molecules import chembl_csv

    mols = chembl_csv(tmp_path)  # the molecules example's mols.csv, and a tox.csv with gaps
    lines = mols.read_text().splitlines()[1:]
    tox = ["smiles,NR-AR,NR-AhR,SR-p53"]
    for i, line in enumerate(lines):
        smiles, _, act = line.split(",")
        value = float(act)
        tox.append(
            f"{smiles},{int(value > 6)},{'' if i % 4 == 0 else int(value > 5.5)},{int('Cl' in smiles)}"
        )
    (tmp_path / "tox.csv").write_text("\n".join(tox) + "\n")
    from tests.test_hetero import folder

    folder(tmp_path / "shop")  # the typed graph of docs/heterogeneous.md
    ran = commands()
    assert len(ran) >= 30
    failures = []
    last_sweep = 0
    for line, args in ran:
        before = _json_files(tmp_path)
        code = main(fast(args))
        out, err = capsys.readouterr()
        if code != 0:
            failures.append(f"{line}: gnnexp {' '.join(args)} -> exit {code}\n{err[-2000:]}")
            continue
        after = _json_files(tmp_path)
        written = [path for path, mtime in after.items() if before.get(path) != mtime]
        problems = check_output(fast(args), out, written, tmp_path, last_sweep)
        if problems:
            failures.append(f"{line}: gnnexp {' '.join(args)}: {'; '.join(problems)}")
        if args[:2] == ["train", "-m"]:
            last_sweep = sweep_size(fast(args))
    assert not failures, "\n\n".join(failures)
    # What the tour promised is there.
    assert (tmp_path / "predictions.csv").is_file() and (tmp_path / "comparison.png").is_file()
    assert list(tmp_path.glob("outputs/multirun/*/*/summary.md"))


def write_recipe(where: Path) -> None:
    """docs/extending.md's model recipe as the user writes it: mymodels.py and
    myconf/model/graphconv.yaml."""
    page = (REPO / "docs" / "extending.md").read_text()
    (python,) = blocks("python", page)
    yaml_block = next(b for b in blocks("yaml", page) if "base_graphconv" in b)
    (where / "mymodels.py").write_text(python)
    (where / "myconf" / "model").mkdir(parents=True, exist_ok=True)
    (where / "myconf" / "model" / "graphconv.yaml").write_text(yaml_block)


@pytest.fixture
def recipe(tmp_path, monkeypatch):
    write_recipe(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    from gnnexp.config import components

    components._REGISTRY["model"].pop("graphconv", None)
    sys.modules.pop("mymodels", None)


def test_the_add_a_model_recipe(recipe, capsys):
    code = main(
        [
            "train",
            "--config-dir",
            str(recipe / "myconf"),
            "imports=[mymodels]",
            "model=graphconv",
            "dataset=synthetic",
            "trainer.max_epochs=3",
            f"hydra.run.dir={recipe / 'run'}",
        ]
    )
    assert code == 0, capsys.readouterr().err
    results = json.loads((recipe / "run" / "results.json").read_text())
    assert results["model"] == "graphconv" and math.isfinite(results["test"]["accuracy"])


@pytest.mark.parametrize("name", ["REPRODUCE_TABLE", "BENCH_TABLE"])
def test_measured_tables_are_filled_in(name):
    for page in PAGES:
        assert name not in page.read_text(), f"{name} placeholder left in {page.relative_to(REPO)}"


def test_every_relative_link_names_a_file():
    """Links between the README and docs/ name files that exist, without anchors (a heading
    renamed would break an anchor silently); the README links every page under docs/."""
    problems = []
    from_readme = set()
    for page in PAGES:
        for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text()):
            if re.match(r"[a-z]+:", target):  # http:, https:, mailto:
                continue
            if "#" in target:
                problems.append(f"{page.relative_to(REPO)}: {target} has an anchor")
                continue
            path = (page.parent / target).resolve()
            if page == PAGES[0]:
                from_readme.add(path)
            if not path.exists():
                problems.append(f"{page.relative_to(REPO)}: {target} does not exist")
    assert not problems, "\n".join(problems)
    unlinked = {p.resolve() for p in PAGES[1:]} - from_readme
    assert not unlinked, f"the README links no {sorted(p.name for p in unlinked)}"
