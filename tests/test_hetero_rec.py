"""Recommendation and link prediction on one edge type of a typed graph: the ranking
metrics, the leak-free split, LightGCN against a popularity ranking, and the commands."""

from __future__ import annotations

import csv
import json
import math

import pytest
import torch

from gnnexp.config.compose import compose
from gnnexp.data.bipartite import ITEM, RATES, USER
from gnnexp.data.bipartite_graph import planted_bipartite
from gnnexp.errors import DataError
from gnnexp.metrics import ndcg_at_k, recall_at_k, user_hits_at_k
from gnnexp.running.experiment import build_experiment, checked
from gnnexp.tasks.recommend import rank_scores
from gnnexp.tasks.typed_edge_split import check_no_leaks, leaked_pairs, split_typed_edges, with_reverse

EDGE = (USER, RATES, ITEM)
REV = (ITEM, f"rev_{RATES}", USER)
# Small and quick: 120 users, 80 items, 10 ratings each.
SMALL = (
    "dataset=bipartite",
    "dataset.num_users=120",
    "dataset.num_items=80",
    "dataset.num_groups=4",
    "dataset.interactions_per_user=10",
)


def test_ranking_metrics_on_hand_built_cases():
    # Two users, five items. User 0 ranks 4 > 3 > 2 > 1 > 0 and holds items 3 and 0;
    # user 1 ranks 0 > 1 > 2 > 3 > 4 and holds item 4.
    scores = torch.tensor([[0.0, 1, 2, 3, 4], [4.0, 3, 2, 1, 0]])
    relevant = torch.zeros(2, 5, dtype=torch.bool)
    relevant[0, [3, 0]] = True
    relevant[1, 4] = True
    # Top 2: user 0 finds item 3 (at place 2) of its two; user 1 finds nothing.
    assert recall_at_k(scores, relevant, 2) == pytest.approx((1 / 2 + 0) / 2)
    assert user_hits_at_k(scores, relevant, 2) == pytest.approx(0.5)
    ideal0 = 1 + 1 / math.log2(3)  # two relevant items fit in the top 2
    assert ndcg_at_k(scores, relevant, 2) == pytest.approx(((1 / math.log2(3)) / ideal0 + 0) / 2)
    # Top 5 holds everything: recall and hits 1; NDCG by the places 2 and 5 (user 0), 5 (user 1).
    assert recall_at_k(scores, relevant, 5) == pytest.approx(1.0)
    assert user_hits_at_k(scores, relevant, 5) == pytest.approx(1.0)
    user0 = (1 / math.log2(3) + 1 / math.log2(6)) / ideal0
    assert ndcg_at_k(scores, relevant, 5) == pytest.approx((user0 + 1 / math.log2(6)) / 2)
    # K beyond the number of items is all of them.
    assert recall_at_k(scores, relevant, 50) == pytest.approx(1.0)


def test_items_seen_in_training_are_never_ranked():
    # One-dimensional embeddings: item i scores i for every user. User 0 rated items 4 and 3
    # in training and holds item 2 out; user 1 holds item 0 out and knows nothing.
    z_user = torch.ones(2, 1)
    z_item = torch.arange(5.0).view(-1, 1)
    held = torch.tensor([[0, 1], [2, 0]])
    known = torch.tensor([[0, 0], [4, 3]])
    names = ["recall@1", "ndcg@1", "hits@1", "recall@5"]
    got = rank_scores(z_user, z_item, held, known, names)
    # User 0: items 4 and 3 left out, item 2 comes first. User 1: item 0 is last of five.
    assert got["recall@1"] == pytest.approx(0.5)
    assert got["hits@1"] == pytest.approx(0.5)
    assert got["ndcg@1"] == pytest.approx(0.5)
    assert got["recall@5"] == pytest.approx(1.0)
    # Without the exclusion user 0's top item would be a training one.
    assert rank_scores(z_user, z_item, held, known[:, :0], names)["recall@1"] == pytest.approx(0.0)


def _graph():
    graph = planted_bipartite(200, 100, 4, 10, 0.8, 0.5, seed=1)
    return with_reverse(graph, EDGE, REV)


def _pairs(edge_index, flip=False):
    pairs = edge_index.flip(0) if flip else edge_index
    return set(map(tuple, pairs.t().tolist()))


def test_split_keeps_held_out_pairs_and_their_reverses_out_of_message_passing():
    _, val, test = split_typed_edges(_graph(), EDGE, REV, 0.1, 0.2, seed=0, negatives=True)
    val_pos, test_pos = _pairs(val[EDGE].pos_edge_label_index), _pairs(test[EDGE].pos_edge_label_index)
    assert len(val_pos) == 200 and len(test_pos) == 400  # 10% and 20% of 2000 ratings
    for part, held in ((val, val_pos), (test, test_pos)):
        forward = _pairs(part[EDGE].edge_index)
        backward = _pairs(part[REV].edge_index, flip=True)  # item -> user, read as user -> item
        assert not held & forward and not held & backward
        assert forward == backward  # the reverse type holds exactly the message-passing ratings
        assert leaked_pairs(part, EDGE) == {}
    assert val_pos <= _pairs(test[EDGE].edge_index)  # test passes messages over validation ratings
    check_no_leaks({"val": val, "test": test}, EDGE, REV)


def test_a_split_that_leaves_the_reverse_edges_in_is_caught():
    # RandomLinkSplit not told which type is the reverse keeps every item -> user edge.
    _, val, test = split_typed_edges(_graph(), EDGE, None, 0.1, 0.2, seed=0, negatives=True)
    assert leaked_pairs(val, EDGE) == {REV: 200}
    assert leaked_pairs(test, EDGE) == {REV: 400}
    assert leaked_pairs(val, EDGE, [EDGE]) == {}  # the predicted type itself is split right
    with pytest.raises(
        DataError, match=r"200 held-out val pairs of \[user,rates,item\] .* \[item,rev_rates,user\]"
    ):
        check_no_leaks({"val": val, "test": test}, EDGE, REV)


@pytest.mark.parametrize("task", ["recommend", "hetero_link"])
def test_the_inputs_a_model_gets_at_evaluation_hold_no_held_out_pair(task):
    experiment = build_experiment(checked(compose([*SMALL, "model=lightgcn", f"task={task}"])))
    edges = experiment.task.edges  # type: ignore[attr-defined]
    for split in ("val", "test"):
        held = _pairs(edges.parts[split][EDGE].pos_edge_label_index)
        assert held
        _, edge_index_dict = edges.inputs(split)  # what the model is called with
        passed = _pairs(edge_index_dict[EDGE]) | _pairs(edge_index_dict[REV], flip=True)
        assert not held & passed
        assert set(edge_index_dict) == {EDGE, REV}


def test_lightgcn_beats_popularity_and_chance_on_planted_groups(gnnexp):
    args = (*SMALL, "model=lightgcn", "trainer.max_epochs=15", "model.hidden_channels=32")
    run = gnnexp(*args)
    assert run.code == 0, run.err
    res = run.results
    assert res["task"] == "recommend" and res["metric"] == "recall@20"
    assert set(res["test"]) == {"loss", "recall@20", "ndcg@20", "hits@20"}
    # The same split, ranked by how often each item was rated in training.
    task = build_experiment(checked(compose(list(args)))).task
    edges = task.edges  # type: ignore[attr-defined]
    train = edges.parts["train"][EDGE].edge_index
    known = edges.parts["test"][EDGE].edge_index
    held = edges.parts["test"][EDGE].pos_edge_label_index
    popularity = torch.bincount(train[1], minlength=80).float().view(-1, 1)
    names = ["recall@20"]
    popular = rank_scores(torch.ones(120, 1), popularity, held, known, names)["recall@20"]
    random_order = torch.rand(80, 1, generator=torch.Generator().manual_seed(0))
    chance = rank_scores(torch.ones(120, 1), random_order, held, known, names)["recall@20"]
    # About 20 of the 70-odd unseen items by chance; popularity helps some; the groups more.
    assert chance < 0.4 and popular < 0.6
    assert res["test"]["recall@20"] > popular + 0.15, (res["test"], popular, chance)
    assert res["test"]["ndcg@20"] > 0 and 0 < res["test"]["hits@20"] <= 1


def test_link_prediction_on_one_edge_type_above_chance_and_its_commands(gnnexp, tmp_path):
    args = (*SMALL, "model=lightgcn", "task=hetero_link", "task.edge_type=[user,rates,item]")
    run = gnnexp(*args, "trainer.max_epochs=30", "task.k=5")
    assert run.code == 0, run.err
    res = run.results
    assert res["metric"] == "roc_auc" and res["test"]["roc_auc"] > 0.7, res["test"]
    assert set(res["test"]) == {"loss", "roc_auc", "ap", "hits@50"}
    assert "item,rev_rates,user" in run.out, run.out
    # eval reproduces the recorded test metrics from the checkpoint.
    evaluated = gnnexp(str(run.run_dir), command="eval")
    assert evaluated.code == 0, evaluated.err
    written = json.loads((run.run_dir / "eval.json").read_text())["metrics"]["test"]
    assert written["roc_auc"] == pytest.approx(res["test"]["roc_auc"], abs=1e-6)
    # predict: the 5 best items per user, none the user has rated, best first.
    out = tmp_path / "top.csv"
    predicted = gnnexp(str(run.run_dir), "--out", str(out), command="predict")
    assert predicted.code == 0, predicted.err
    with open(out) as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["user", "rank", "item", "prob_edge"]
    graph = planted_bipartite(120, 80, 4, 10, 0.8, 0.5, seed=0)
    rated = _pairs(graph[EDGE].edge_index)
    assert len(rows) == 120 * 5
    assert not {(int(r["user"]), int(r["item"])) for r in rows} & rated
    first = [float(r["prob_edge"]) for r in rows if r["user"] == "0"]
    assert [r["rank"] for r in rows if r["user"] == "0"] == ["1", "2", "3", "4", "5"]
    assert first == sorted(first, reverse=True)


def test_recommendation_resumes_where_it_stopped(gnnexp):
    run = gnnexp(*SMALL, "model=lightgcn", "trainer.max_epochs=3")
    assert run.code == 0, run.err
    more = gnnexp(f"trainer.resume={run.run_dir}", "trainer.max_epochs=5", run_dir=run.run_dir)
    assert more.code == 0, more.err
    assert [int(r["epoch"]) for r in run.metrics()] == [1, 2, 3, 4, 5]
    assert run.results["epochs_run"] == 5


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((*SMALL, "task.edge_type=[user,likes,item]"), "task.edge_type=[user,likes,item] is not an edge type"),
        ((*SMALL, "task.k=100"), "task.k=100 ranks a top 100 of the 80 item nodes"),
        ((*SMALL, "task.metric=ndcg@100"), "task.metric=ndcg@100 ranks a top 100 of the 80 item nodes"),
        ((*SMALL, "task.edge_type=[user,rates]"), "three names"),
        ((*SMALL, "model.norm=batch"), "LightGCN has no normalisation"),
        (("dataset=cora", "model=gcn", "task.metric=recall@20"), "applies to task=recommend"),
        (("dataset=cora", "task=link", "model=gcn", "task.metric=ndcg@10"), "does not apply to task=link"),
        (("dataset=cora",), "model=lightgcn"),
        (("dataset=hetero_synthetic", "task=hetero_link", "task.edge_type=[item,has,tag]"),
         "model=lightgcn needs a bipartite graph"),
    ],
    ids=["missing-edge-type", "k-too-large", "metric-k-too-large", "bad-edge-type", "unused-setting", "ranking-metric-on-nodes",
         "ranking-metric-on-links", "lightgcn-on-cora", "lightgcn-non-bipartite"],
)  # fmt: skip
def test_hostile_settings_are_one_line(gnnexp, args, message):
    result = gnnexp("model=lightgcn", "trainer.max_epochs=1", *args)
    assert result.code != 0
    lines = [line for line in result.err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("gnnexp: error:"), result.err
    assert message in lines[0]
    assert "Traceback" not in result.err + result.out


def test_a_folder_of_users_and_movies_is_recommended_by_its_ids(gnnexp, tmp_path):
    folder = tmp_path / "movies"
    (folder / "nodes").mkdir(parents=True)
    (folder / "edges").mkdir()
    (folder / "nodes" / "user.csv").write_text("id\n" + "".join(f"ann{i}\n" for i in range(12)))
    (folder / "nodes" / "movie.csv").write_text("id\n" + "".join(f"film{i}\n" for i in range(9)))
    rated = {(f"ann{u}", f"film{(u + j) % 9}") for u in range(12) for j in range(5)}
    lines = "".join(f"{a},{b}\n" for a, b in sorted(rated))
    (folder / "edges" / "user__rates__movie.csv").write_text("source,target\n" + lines)
    args = ("dataset=hetero_files", f"dataset.path={folder}", "task=recommend", "model=lightgcn")
    run = gnnexp(*args, "task.edge_type=[user,rates,movie]", "task.k=5", "trainer.max_epochs=2")
    assert run.code == 0, run.err
    assert run.results["metric"] == "recall@5"  # the monitored metric follows task.k
    assert set(run.results["test"]) == {"loss", "recall@5", "ndcg@5", "hits@5"}
    out = tmp_path / "top.csv"
    predicted = gnnexp(str(run.run_dir), "--out", str(out), command="predict")
    assert predicted.code == 0, predicted.err
    with open(out) as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["user", "rank", "movie", "score"]
    # Each user has rated 5 of the 9 films: the other 4 are listed (not 5), by the folder's ids.
    assert len(rows) == 12 * 4
    assert {r["user"] for r in rows} == {f"ann{i}" for i in range(12)}
    assert not {(r["user"], r["movie"]) for r in rows} & rated
