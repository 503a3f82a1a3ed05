"""Knowledge graphs end to end: the loaders on good and bad files, each model's scores against
PyG's, training well above random ranking, per-relation results, eval and predict --query."""

from __future__ import annotations

import csv
import itertools
import json
from pathlib import Path

import pytest
import torch

from gnnexp.cli import main
from gnnexp.config.components import declared

SHIPPED = {  # entities, relations, train/valid/test triples (shared/data/KG/README.md)
    "kinships": (104, 25, (8544, 1068, 1074)),
    "umls": (135, 46, (5216, 652, 661)),
    "nations": (14, 55, (1592, 199, 201)),
}


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_the_shipped_graphs_load_with_their_published_sizes(name, data_dir):
    from gnnexp.config.compose import compose
    from gnnexp.data.loading import load_dataset

    data = load_dataset(compose([f"dataset={name}"]).dataset, data_dir)
    kg = data.graphs
    entities, relations, sizes = SHIPPED[name]
    assert (data.level, kg.num_entities, kg.num_relations) == ("kg", entities, relations)
    assert tuple(kg.split(s).size(0) for s in ("train", "val", "test")) == sizes
    assert data.notes == {}  # nothing dropped


@pytest.mark.parametrize("model", ["transe", "distmult", "complex", "rotate"])
@pytest.mark.parametrize("num_entities", [7, 60])  # every entity scored, or candidates gathered
def test_scoring_every_entity_gives_pygs_triple_scores(model, num_entities):
    torch.manual_seed(0)
    net = declared("model")[model](name=model, hidden_channels=4).build(num_entities, 3)
    h, r, t = (
        torch.randint(0, num_entities, (5,)),
        torch.randint(0, 3, (5,)),
        torch.randint(0, num_entities, (5,)),
    )
    expected = net(h, r, t)
    ent = net.encode()
    rows = torch.arange(5)
    torch.testing.assert_close(net.decode(ent, h, r)[rows, t], expected)
    torch.testing.assert_close(net.decode(ent, t, r, heads=True)[rows, h], expected)
    candidates = torch.stack([t, torch.randint(0, num_entities, (5,)), h], dim=1)
    picked = net.decode(ent, h, r, candidates)
    torch.testing.assert_close(picked, net.decode(ent, h, r).gather(1, candidates))
    torch.testing.assert_close(picked[:, 0], expected)


def _write(path: Path, lines: list[str] | bytes) -> Path:
    path.write_bytes(lines if isinstance(lines, bytes) else "".join(f"{line}\n" for line in lines).encode())
    return path


def _family(tmp_path: Path) -> dict[str, Path]:
    """A small family tree as TSV files; one test fact names someone training never saw."""
    people = [f"p{i}" for i in range(12)]
    train = [f"{a}\tparent_of\t{b}" for a, b in itertools.pairwise(people)]
    train += [f"{b}\tchild_of\t{a}" for a, b in itertools.pairwise(people)]
    train += [f"{a}\tgrandparent_of\t{c}" for a, c in zip(people[:5], people[2:7], strict=False)]
    return {
        "train": _write(tmp_path / "train.tsv", train),
        "valid": _write(tmp_path / "valid.tsv", ["p5\tgrandparent_of\tp7", "p6\tgrandparent_of\tp8"]),
        "test": _write(tmp_path / "test.tsv", ["p7\tgrandparent_of\tp9", "p8\tgrandparent_of\tstranger"]),
    }


def _triples_args(files: dict[str, Path]) -> list[str]:
    return ["dataset=triples", *(f"dataset.{s}={p}" for s, p in files.items()), "model.hidden_channels=8"]


def test_own_triples_train_and_unseen_test_facts_are_dropped_or_refused(gnnexp, tmp_path):
    files = _family(tmp_path)
    result = gnnexp(*_triples_args(files), "trainer.max_epochs=2")
    assert result.code == 0, result.err
    assert "1 triples whose entity or relation is not in train" in " ".join(result.out.split())
    assert 0 < result.results["test"]["mrr"] <= 1
    refused = gnnexp(*_triples_args(files), "dataset.unseen=refuse", "trainer.max_epochs=1")
    assert refused.code == 2
    assert "'stranger' is not in the training triples" in refused.err.strip().splitlines()[-1]
    assert not (refused.run_dir / "results.json").exists()


def test_one_csv_file_is_split_by_fractions_and_seed(tmp_path, data_dir):
    from gnnexp.config.compose import compose
    from gnnexp.data.loading import load_dataset

    nations = (data_dir / "KG" / "Nations" / "train.txt").read_text().splitlines()
    path = _write(
        tmp_path / "facts.csv", ["head,relation,tail", *(line.replace("\t", ",") for line in nations)]
    )

    def load(seed: int):
        args = [
            "dataset=triples",
            f"dataset.path={path}",
            "dataset.header=true",
            f"dataset.split_seed={seed}",
        ]
        return load_dataset(compose(args).dataset, tmp_path).graphs

    kg, again, other = load(0), load(0), load(1)
    sizes = [kg.split(s).size(0) for s in ("train", "val", "test")]
    assert sizes[0] == round(0.8 * len(nations))
    dropped = len(nations) - sum(sizes)  # valid/test facts about entities training lacks
    assert 0 <= dropped < 0.05 * len(nations)
    assert torch.equal(kg.test, again.test) and not torch.equal(kg.test, other.test)


@pytest.mark.parametrize(
    ("split", "content", "fragment"),
    [
        ("train", ["a\tr\tb", "b\tr\tc", "a\tr\tb"], "line 3 repeats line 1"),
        ("train", ["a\tr\tb", "b\tr"], "line 2: 2 tab-separated columns"),
        ("valid", [], "is empty"),
        ("test", b"a\tr\tb\n\xff\xfe\tr\tc\n", "line 2: byte 6 is not UTF-8"),
        ("test", ["a\tr\tb"], "which"),  # a training fact again: a leak
        ("valid", None, "valid.tsv does not exist"),
    ],
)
def test_bad_triples_files_end_in_one_line_and_no_results(gnnexp, tmp_path, split, content, fragment):
    files = {
        "train": _write(tmp_path / "train.tsv", ["a\tr\tb", "b\tr\tc", "c\tr\ta"]),
        "valid": _write(tmp_path / "valid.tsv", ["a\tr\tc"]),
        "test": _write(tmp_path / "test.tsv", ["b\tr\ta"]),
    }
    if content is None:
        files[split].unlink()
    else:
        _write(files[split], content)
    result = gnnexp(*_triples_args(files), "trainer.max_epochs=1")
    assert result.code == 2
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gnnexp: error:") and fragment in lines[0], result.err
    assert not (result.run_dir / "results.json").exists()


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["dataset=kinships", "task=node"], "task=node does not apply"),
        (["dataset=kinships", "model=gcn"], "model=gcn is not a knowledge-graph model"),
        (["model=transe"], "it does not apply to task=node"),
        (["task=kg"], "dataset=cora is a graph with node labels"),
        (["task.metric=mrr"], "applies to task=kg only"),
        (["dataset=triples"], "dataset.train, dataset.valid, dataset.test are not set"),
        (
            ["dataset=nations", "model=rgcn", "model.decomposition=block", "model.num_blocks=7"],
            "does not divide",
        ),
    ],
)
def test_knowledge_graphs_and_other_graphs_do_not_mix(gnnexp, args, fragment):
    result = gnnexp(*args, "trainer.max_epochs=1")
    assert result.code == 2
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0], result.err
    assert not (result.run_dir / "results.json").exists()


def _random_ranking_mrr(kg) -> float:
    """The expected filtered MRR of a uniformly random ranking: H(n) / n for n candidates."""
    known = {tuple(t) for s in ("train", "val", "test") for t in kg.split(s).tolist()}
    tails: dict[tuple[int, int], int] = {}
    heads: dict[tuple[int, int], int] = {}
    for h, r, t in known:
        tails[h, r] = tails.get((h, r), 0) + 1
        heads[r, t] = heads.get((r, t), 0) + 1
    values = []
    for h, r, t in kg.test.tolist():
        for others in (tails[h, r] - 1, heads[r, t] - 1):
            n = kg.num_entities - others
            values.append(sum(1 / k for k in range(1, n + 1)) / n)
    return sum(values) / len(values)


# Small, quick settings under which each model learns Kinships in a few epochs.
QUICK = {
    "distmult": ["task.batch_size=256", "optimizer.lr=0.05"],
    "complex": ["task.batch_size=256", "optimizer.lr=0.05"],
    "rgcn": ["model.num_layers=1", "model.dropout=0", "task.batch_size=512", "optimizer.lr=0.05"],
    "transe": ["model.p_norm=2", "task.batch_size=512", "optimizer.lr=0.05"],
    "rotate": ["task.batch_size=1024", "optimizer.lr=0.05"],
}


@pytest.mark.parametrize("model", sorted(QUICK))
def test_each_model_ranks_well_above_random_after_a_few_epochs(gnnexp, model, data_dir):
    from gnnexp.config.compose import compose
    from gnnexp.data.loading import load_dataset

    kg = load_dataset(compose(["dataset=kinships"]).dataset, data_dir).graphs
    baseline = _random_ranking_mrr(kg)
    assert 0.04 < baseline < 0.06
    result = gnnexp(
        "dataset=kinships",
        f"model={model}",
        "model.hidden_channels=32",
        *QUICK[model],
        "trainer.max_epochs=10",
    )
    assert result.code == 0, result.err
    mrr = result.results["test"]["mrr"]
    assert mrr > 3 * baseline, (model, mrr, baseline)
    val = result.column("val_mrr")
    assert max(val) == pytest.approx(result.results["val"]["mrr"])  # the best epoch, chosen on MRR
    assert result.results["monitor"] == "val_metric" and result.results["mode"] == "max"


def test_per_relation_table_eval_and_predict_query(gnnexp, tmp_path, capsys):
    result = gnnexp(
        "dataset=nations", "model.hidden_channels=16", "task.per_relation=true", "trainer.max_epochs=3"
    )
    assert result.code == 0, result.err
    with open(result.run_dir / "per_relation.csv") as f:
        rows = list(csv.DictReader(f))
    assert sum(int(r["queries"]) for r in rows) == 2 * 201  # head and tail query of each test fact
    assert all(1 <= float(r["mean_rank"]) <= 14 for r in rows)

    assert main(["eval", str(result.run_dir)]) == 0
    evaluated = json.loads((result.run_dir / "eval.json").read_text())["metrics"]["test"]
    assert evaluated["mrr"] == pytest.approx(result.results["test"]["mrr"])

    capsys.readouterr()
    out = tmp_path / "answers.csv"
    assert (
        main(["predict", str(result.run_dir), "--query", "usa,treaties,?", "--top-k", "4", "--out", str(out)])
        == 0
    )
    shown = capsys.readouterr().out
    with open(out) as f:
        answers = list(csv.DictReader(f))
    assert [a["rank"] for a in answers] == ["1", "2", "3", "4"]
    scores = [float(a["score"]) for a in answers]
    assert scores == sorted(scores, reverse=True)
    known = {a["tail"] for a in answers if a["known"]}
    assert all(f"known ({a['known']})" in shown for a in answers if a["known"])
    assert all(name in shown for name in known)
    assert (
        main(["predict", str(result.run_dir), "--query", "?,treaties,usa", "--top-k", "2", "--out", str(out)])
        == 0
    )
    assert "head" in out.read_text().splitlines()[0]

    capsys.readouterr()
    assert main(["predict", str(result.run_dir)]) == 2
    assert "it answers queries" in capsys.readouterr().err
    assert main(["predict", str(result.run_dir), "--query", "usaa,treaties,?"]) == 2
    assert "Did you mean 'usa'?" in capsys.readouterr().err
    assert main(["predict", str(result.run_dir), "--query", "usa,treaties"]) == 2
    assert "'head,relation,?'" in capsys.readouterr().err


def test_fb15k237_reads_its_raw_files_by_name_without_downloading(gnnexp, tmp_path, data_dir):
    raw = tmp_path / "data" / "KG" / "FB15k_237" / "raw"
    raw.mkdir(parents=True)
    for split in ("train", "valid", "test"):
        (raw / f"{split}.txt").write_text((data_dir / "KG" / "Nations" / f"{split}.txt").read_text())
    result = gnnexp(
        "dataset=fb15k237", f"data_dir={tmp_path / 'data'}", "model.hidden_channels=8", "trainer.max_epochs=1"
    )
    assert result.code == 0, result.err
    assert "1592/199/201" in result.out
    assert sorted(p.name for p in raw.parent.iterdir()) == ["raw"]  # PyG was not needed
