"""Open Graph Benchmark datasets through the ``ogb`` package: official splits and Evaluators.

The ``ogb`` package builds the PyG dataset from its raw files (downloading them with
internet) and gives the official split; its ``Evaluator`` scores the run's metric, so the
numbers are the ones OGB's leaderboards use. Graph sets (``ogbg-*``) carry OGB's categorical
atom and bond features, one-hot encoded over OGB's vocabularies (``get_atom_feature_dims``),
so a first linear layer on them is exactly OGB's ``AtomEncoder``/``BondEncoder``. Node and
link sets without node features (ogbl-ddi) get one-hot node ids, whose first linear layer is
a learned embedding per node, as OGB's baselines use.
"""

from __future__ import annotations

import contextlib
import io
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO, cast

import torch
from omegaconf import DictConfig

from gnnexp.data.loading import GraphData, node_level
from gnnexp.data.molecules import one_hot
from gnnexp.data.processed import verified
from gnnexp.errors import ConfigError, DataError, GnnexpError
from gnnexp.metrics import METRICS

# OGB's names of its metrics -> gnnexp's (Hits@K is spelled alike).
METRIC_NAMES = {
    "rocauc": "roc_auc",
    "ap": "ap",
    "rmse": "rmse",
    "mae": "mae",
    "acc": "accuracy",
    **{name: name for name in METRICS if name.startswith("hits@")},
}
# OGB's rules let a link model pass messages over the validation edges at test time only
# on these datasets (their leaderboards say "use validation edges as input").
VALIDATION_EDGES_AT_TEST = ("ogbl-collab",)


def _open(cfg: DictConfig, data_dir: Path, kind: str) -> tuple[Any, Any, Any]:
    """``(dataset, its official split, its Evaluator)`` for ``kind`` graph, node or link."""
    try:
        import ogb.graphproppred as graphs
        import ogb.linkproppred as links
        import ogb.nodeproppred as nodes
    except ImportError:
        raise GnnexpError(
            f"dataset={cfg.name} needs the ogb package.", "pip install 'gnnexp[ogb]'."
        ) from None
    import numpy as np
    import torch_geometric.data.data as pyg_data
    import torch_geometric.data.storage as pyg_storage

    dataset_class, evaluator_class, split_of = {
        "graph": (graphs.PygGraphPropPredDataset, graphs.Evaluator, "get_idx_split"),
        "node": (nodes.PygNodePropPredDataset, nodes.Evaluator, "get_idx_split"),
        "link": (links.PygLinkPropPredDataset, links.Evaluator, "get_edge_split"),
    }[kind]
    name = str(cfg.ogb_name)
    root = data_dir / "ogb"
    folder = root / name.replace("-", "_")
    if folder.is_dir() and not list(folder.glob("RELEASE_v*.txt")):
        # ogb would stop and ask on the terminal whether to download it again.
        raise DataError(
            f"{folder} is not a complete OGB dataset (no RELEASE_v*.txt).", f"remove {folder} and run again."
        )
    chatter = io.StringIO()  # ogb prints its progress bars and "Loading necessary files..."
    try:
        # ogb loads its processed file and its link splits with torch.load, whose weights-only
        # mode must be told about PyG's storage classes and NumPy's arrays (plain data, no code).
        safe: list[Any] = [pyg_data.DataEdgeAttr, pyg_data.DataTensorAttr, pyg_storage.GlobalStorage]
        try:
            rebuild = np._core.multiarray._reconstruct  # type: ignore[attr-defined]
        except AttributeError:  # NumPy 1
            rebuild = np.core.multiarray._reconstruct  # type: ignore[attr-defined,unused-ignore]
        # NumPy 1 pickles name the function numpy.core..., NumPy 2 numpy._core...
        safe += [(rebuild, f"numpy.{core}.multiarray._reconstruct") for core in ("core", "_core")]
        safe += [np.ndarray, np.dtype]
        safe += [type(np.dtype(t)) for t in ("int64", "int32", "float32", "float64")]
        with (
            torch.serialization.safe_globals(safe),
            contextlib.redirect_stdout(chatter),
            contextlib.redirect_stderr(chatter),
            _Answers.instead_of_stdin(chatter),
            warnings.catch_warnings(),
            verified([folder / "processed"]),
        ):
            # ogb's processing hands torch read-only NumPy arrays: a note for ogb, not for you.
            warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
            dataset = dataset_class(name, root=str(root))
            split = getattr(dataset, split_of)()
        evaluator = evaluator_class(name)
    except DataError:
        raise
    except EOFError as err:  # ogb asked a question on stdin that gnnexp does not answer
        raise DataError(
            f"{folder} holds an older release of {name}, which ogb would replace.",
            f"remove {folder} (ogb downloads the current release), or point GNNEXP_DATA_DIR elsewhere.",
        ) from err
    except SystemExit as err:  # ogb exits when its download question is answered no
        raise DataError(
            f"ogb stopped before downloading {name}.", f"put OGB's files under {folder}."
        ) from err
    except Exception as err:  # a failed download, damaged files
        raise DataError(
            f"Cannot load {name} into {root} ({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}).",
            f"with internet ogb downloads it; offline, put OGB's files under {folder}.",
        ) from err
    return dataset, split, evaluator


class _Answers:
    """What ogb reads on stdin while gnnexp hides its chatter: "y" to its question before a
    download over 1 GB (the run asked for that dataset), end of input to any other question
    (ogb's offer to delete an older release), which then fails in one line instead of
    waiting on a prompt nobody sees. The terminal's stdin is never read."""

    def __init__(self, chatter: io.StringIO) -> None:
        self.chatter = chatter

    def readline(self, size: int = -1) -> str:
        return "y\n" if self.chatter.getvalue().rstrip().endswith("Will you proceed? (y/N)") else ""

    @staticmethod
    @contextlib.contextmanager
    def instead_of_stdin(chatter: io.StringIO) -> Iterator[None]:
        saved = sys.stdin
        sys.stdin = cast(TextIO, _Answers(chatter))
        try:
            yield
        finally:
            sys.stdin = saved


def _metric(cfg: DictConfig, evaluator: Any, supported: bool, which: str) -> str:
    metric = METRIC_NAMES.get(evaluator.eval_metric)
    if metric is None or not supported:
        raise DataError(f"{cfg.ogb_name} ({evaluator.eval_metric}) is not supported yet.", f"use {which}.")
    if cfg.metric != metric:  # the Evaluator scores OGB's metric only
        raise ConfigError(
            f"dataset.metric={cfg.metric}, but OGB scores {cfg.ogb_name} by {metric}.",
            f"drop dataset.metric (use task.metric=... to monitor another metric beside {metric}).",
        )
    return metric


def _node_features(graph: Any) -> tuple[torch.Tensor, int]:
    """The nodes' features, or one-hot node ids (a learned embedding per node) when it has none."""
    if getattr(graph, "x", None) is not None:
        return graph.x.float(), int(graph.x.size(1))
    n = int(graph.num_nodes)
    return torch.eye(n), n


def load_ogbg(cfg: DictConfig, data_dir: Path) -> GraphData:
    """An ``ogbg-*`` dataset from ``<data_dir>/ogb`` (downloaded there when missing)."""
    import torch_geometric.data.data as pyg_data
    from ogb.utils.features import get_atom_feature_dims, get_bond_feature_dims

    dataset, split, evaluator = _open(cfg, data_dir, "graph")
    regression = cfg.target == "regression"
    # Several binary tasks with gaps (tox21, molpcba): a float row per graph for task.loss=bce.
    multilabel = not regression and dataset.num_tasks > 1
    metric = _metric(
        cfg,
        evaluator,
        not (regression and dataset.num_tasks != 1),
        "ogbg-molhiv, ogbg-moltox21, ogbg-molpcba, ogbg-molesol, ogbg-molfreesolv or ogbg-mollipo",
    )
    atoms, bonds = list(get_atom_feature_dims()), list(get_bond_feature_dims())
    graphs = []
    for graph in dataset:
        y = graph.y.view(1, -1)
        graphs.append(
            pyg_data.Data(
                x=one_hot(graph.x, atoms),
                edge_index=graph.edge_index,
                edge_attr=one_hot(graph.edge_attr, bonds),
                y=y.float() if regression or multilabel else y.view(-1)[:1].long(),
            )
        )

    def official(pred: torch.Tensor, target: torch.Tensor) -> float:
        """The run's metric as OGB's Evaluator computes it."""
        scores = pred.view(pred.size(0), -1)
        if not regression and not multilabel:  # two-class logits -> the positive class's margin
            scores = (scores[:, 1] - scores[:, 0]).view(-1, 1)
        truth = target.float().view(scores.shape)  # missing labels stay NaN: the Evaluator skips them
        return _evaluate(evaluator, {"y_true": truth, "y_pred": scores.float()})

    return GraphData(
        str(cfg.name),
        "graph",
        graphs,
        sum(atoms),
        dataset.num_tasks if regression or multilabel else 2,
        sum(bonds),
        split={"train": split["train"], "val": split["valid"], "test": split["test"]},
        scorer=(metric, official),
        notes={"split": f"OGB's official split; {metric} by ogb's Evaluator"},
    )


def load_ogbn(cfg: DictConfig, data_dir: Path) -> GraphData:
    """An ``ogbn-*`` node classification dataset: one graph, OGB's split as node masks."""
    from torch_geometric.data import Data
    from torch_geometric.utils import to_undirected

    dataset, split, evaluator = _open(cfg, data_dir, "node")
    metric = _metric(
        cfg, evaluator, dataset.num_tasks == 1 and not dataset.is_hetero, "ogbn-arxiv or ogbn-products"
    )
    graph = dataset[0]
    x, width = _node_features(graph)
    n = int(graph.num_nodes)
    masks = {}
    for ours, theirs in (("train", "train"), ("val", "valid"), ("test", "test")):
        masks[f"{ours}_mask"] = torch.zeros(n, dtype=torch.bool)
        masks[f"{ours}_mask"][split[theirs]] = True
    # ogbn-arxiv's citations are directed; OGB's baselines pass messages both ways.
    plain = Data(x=x, edge_index=to_undirected(graph.edge_index, num_nodes=n), y=graph.y.view(-1), **masks)

    def official(pred: torch.Tensor, target: torch.Tensor) -> float:
        return _evaluate(evaluator, {"y_true": target.view(-1, 1), "y_pred": pred.argmax(-1).view(-1, 1)})

    data = node_level(cfg, plain, width)
    data.scorer = (metric, official)
    data.notes = {"split": f"OGB's official split; {metric} by ogb's Evaluator"}
    return data


def load_ogbl(cfg: DictConfig, data_dir: Path) -> GraphData:
    """An ``ogbl-*`` link prediction dataset: OGB's training edges, and its validation and test
    edges with OGB's fixed negatives, scored by Hits@K of OGB's Evaluator."""
    from torch_geometric.data import Data
    from torch_geometric.utils import to_undirected

    dataset, split, evaluator = _open(cfg, data_dir, "link")
    name = str(cfg.ogb_name)
    metric = _metric(
        cfg,
        evaluator,
        "edge_neg" in split["valid"],
        "ogbl-collab, ogbl-ddi or ogbl-ppa (ogbl-citation2 ranks per source node, not supported)",
    )
    graph = dataset[0]
    x, width = _node_features(graph)
    n = int(graph.num_nodes)

    def edges(part: dict[str, Any], key: str) -> torch.Tensor:
        return torch.as_tensor(part[key]).long().t().contiguous()  # OGB: (pairs, 2) -> (2, pairs)

    train = edges(split["train"], "edge")
    pairs: dict[str, Any] = {
        "train": (train, None),
        "val": (edges(split["valid"], "edge"), edges(split["valid"], "edge_neg")),
        "test": (edges(split["test"], "edge"), edges(split["test"], "edge_neg")),
        "validation_edges_at_test": name in VALIDATION_EDGES_AT_TEST,
    }
    plain = Data(x=x, edge_index=to_undirected(train, num_nodes=n), num_nodes=n)

    def official(pos: torch.Tensor, neg: torch.Tensor) -> float:
        return _evaluate(evaluator, {"y_pred_pos": pos.view(-1), "y_pred_neg": neg.view(-1)})

    return GraphData(
        str(cfg.name),
        "node",
        plain,
        width,
        1,
        split=pairs,
        scorer=(metric, official),
        notes={"split": f"OGB's official edges and negatives; {metric} by ogb's Evaluator"},
    )


def _evaluate(evaluator: Any, inputs: dict[str, torch.Tensor]) -> float:
    result: dict[str, Any] = evaluator.eval({k: v.detach().cpu() for k, v in inputs.items()})
    return float(result[evaluator.eval_metric])
