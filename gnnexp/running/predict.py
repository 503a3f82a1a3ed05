"""Predictions of a trained model on a dataset: per node, per graph or per edge."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig

from gnnexp.config.components import instance
from gnnexp.data.loading import GraphData
from gnnexp.errors import CheckpointError, DataError, GnnexpError, did_you_mean
from gnnexp.models.layout import PLAIN, Layout
from gnnexp.tasks.base import edge_dim, edge_features
from gnnexp.util.atomic import atomic_file


def check_width(data: GraphData, shape: dict[str, Any] | None, source: Path) -> None:
    """Refuse a dataset whose feature width is not the one the weights were trained on."""
    expected = (shape or {}).get("in_channels")
    if expected is not None and expected != data.num_features:
        raise CheckpointError(
            f"dataset={data.name} has {data.num_features} features per node, but the model in {source} "
            f"was trained on {expected}.",
            "predict on a dataset with the training data's features (same columns, same order).",
        )


def _columns(
    out: torch.Tensor, regression: bool, multilabel: bool = False
) -> tuple[list[str], list[list[float]], list[Any]]:
    """Header, probability (or value) columns and the predicted label per row (several binary
    targets: one probability each, no single label)."""
    if multilabel:
        probs = out.view(out.size(0), -1).sigmoid()
        return [f"prob_{i}" for i in range(probs.size(1))], probs.tolist(), [None] * probs.size(0)
    if regression:
        values = out.view(out.size(0), -1)
        names = ["value"] if values.size(1) == 1 else [f"value_{i}" for i in range(values.size(1))]
        return names, values.tolist(), [None] * values.size(0)
    probs = out.softmax(dim=-1)
    return [f"prob_{i}" for i in range(probs.size(1))], probs.tolist(), probs.argmax(dim=-1).tolist()


def predict(
    cfg: DictConfig,
    data: GraphData,
    weights: dict[str, torch.Tensor],
    shape: dict[str, Any] | None,
    source: Path,
) -> tuple[list[str], list[list[Any]]]:
    """Header and rows of predictions for ``data`` with the model ``cfg`` describes."""
    from gnnexp.training.checkpoint import load_weights

    check_width(data, shape, source)
    spec = instance("task", cfg.task)
    if hasattr(spec, "predictions"):  # a task that builds its model and rows itself (typed graphs)
        table: tuple[list[str], list[list[Any]]] = spec.predictions(
            cfg, data, shape, lambda model: load_weights(model, weights, source)
        )
        return table
    regression = cfg.dataset.target == "regression"
    out_channels = (shape or {}).get("out_channels") or data.num_classes
    kind = str(cfg.task.kind)
    # The network exactly as training built it: the plain layout (the weights do not depend
    # on it), with edge features where training gave the model some.
    edges = edge_dim(cfg.model, data, usable=kind != "link" and cfg.loader.kind != "neighbor")
    layout = PLAIN if edges is None else Layout(edge_dim=edges)
    model = instance("task", cfg.task).model(cfg.model, data.num_features, out_channels, layout)
    load_weights(model, weights, source)
    model.eval()
    graph = data.graphs
    if kind == "node":
        with torch.inference_mode():
            out = model(graph.x, graph.edge_index, *([edge_features(graph.edge_attr)] if edges else []))
        names, values, labels = _columns(out, regression)
        split = [
            next(
                (
                    s
                    for s in ("train", "val", "test")
                    if graph.get(f"{s}_mask") is not None and bool(graph[f"{s}_mask"][i])
                ),
                "",
            )
            for i in range(graph.num_nodes)
        ]
        header = ["node", "prediction", *names, "label", "split"]
        rows = [[i, labels[i], *values[i], graph.y[i].tolist(), split[i]] for i in range(graph.num_nodes)]
        return header, rows
    if kind == "graph":
        from torch_geometric.loader import DataLoader

        outs, labels_true = [], []
        with torch.inference_mode():
            for batch in DataLoader(list(data.graphs), batch_size=256):
                extra = [edge_features(batch.edge_attr)] if edges else []
                outs.append(model(batch.x, batch.edge_index, batch.batch, *extra))
                labels_true += batch.y.view(batch.num_graphs, -1)[:, 0].tolist()
        names, values, labels = _columns(torch.cat(outs), regression, cfg.task.loss == "bce")
        labels_true = ["" if isinstance(v, float) and v != v else v for v in labels_true]  # NaN: unlabelled
        ids = data.ids or []
        header = ["graph", *(["id"] if ids else []), "prediction", *names, "label"]
        return header, [
            [i, *([ids[i]] if ids else []), labels[i], *values[i], labels_true[i]] for i in range(len(values))
        ]
    # link: the probability of every edge of the graph, messages passed over the whole graph
    pairs = graph.edge_index[:, graph.edge_index[0] <= graph.edge_index[1]]
    with torch.inference_mode():
        prob = model(graph.x, graph.edge_index, pairs).sigmoid()
    return ["source", "target", "prob_edge"], [
        [int(a), int(b), float(p)] for (a, b), p in zip(pairs.t().tolist(), prob, strict=True)
    ]


def unreadable_molecules_kept(
    cfg: DictConfig, header: list[str], rows: list[list[Any]]
) -> tuple[list[list[Any]], list[tuple[int, str]]]:
    """A SMILES file's predictions with one row per input row, in the input's order: the
    molecules RDKit could not read (skipped by the loader) get a row with empty predictions,
    so that row n of the output is row n of the input. Also (line, SMILES) of those rows."""
    from gnnexp.data.molecules import read_rows

    if "smiles" not in cfg.dataset or "id" not in header:
        return rows, []
    inputs = read_rows(
        Path(str(cfg.dataset.path)).expanduser(), str(cfg.dataset.smiles), list(cfg.dataset.targets)
    )
    at = header.index("id")
    kept = iter(rows)
    following = next(kept, None)
    aligned: list[list[Any]] = []
    unreadable: list[tuple[int, str]] = []
    # The loader keeps the readable rows in order, and a SMILES reads the same wherever it is,
    # so a row is kept exactly when its SMILES is the next prediction's id.
    for line, smiles, _ in inputs:
        if following is not None and following[at] == smiles:
            aligned.append(following)
            following = next(kept, None)
        else:
            unreadable.append((line, smiles))
            aligned.append(["" if i != at else smiles for i in range(len(header))])
    return aligned, unreadable


def write_csv(path: Path, header: list[str], rows: list[list[Any]]) -> None:
    with atomic_file(path, newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)


def parse_query(query: str) -> tuple[str, str, bool]:
    """``'head,relation,?'`` or ``'?,relation,tail'`` as (known entity, relation, asks for heads)."""
    parts = [p.strip() for p in query.split(",")]
    if len(parts) != 3 or [parts[0], parts[2]].count("?") != 1 or parts[1] == "?" or not all(parts):
        raise GnnexpError(
            f"--query {query!r} is not a question about one missing entity.",
            "write --query 'head,relation,?' or --query '?,relation,tail'.",
        )
    heads = parts[0] == "?"
    return (parts[2] if heads else parts[0]), parts[1], heads


def answer_query(
    cfg: DictConfig,
    data: GraphData,
    weights: dict[str, torch.Tensor],
    source: Path,
    query: str,
    top_k: int,
) -> tuple[list[str], list[list[Any]]]:
    """The ``top_k`` answers of a knowledge-graph query, best first: rank, entity, score and the
    split that holds the fact when the graph knows it."""
    from gnnexp.tasks.kg import KGTask
    from gnnexp.training.checkpoint import load_weights

    entity, relation, heads = parse_query(query)
    kg = data.graphs
    for name, names, what in ((entity, kg.entities, "an entity"), (relation, kg.relations, "a relation")):
        if name not in names:
            raise DataError(
                f"--query names {what} '{name}' that dataset={data.name} does not hold.{did_you_mean(name, names)}",
                f"use {what} of the training triples ({len(names)} names, in the dataset's files).",
            )
    task = KGTask(cfg, data, torch.device("cpu"))
    model = task.build_model(cfg.model)
    load_weights(model, weights, source)
    model.eval()
    with torch.inference_mode():
        answers = task.top_answers(
            model, kg.entities.index(entity), kg.relations.index(relation), heads, top_k
        )
    header = ["rank", "head" if heads else "tail", "score", "known"]
    return header, [[i, kg.entities[e], score, split] for i, (e, score, split) in enumerate(answers, start=1)]
