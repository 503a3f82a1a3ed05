"""Every reader of a user's file, fuzzed: the only outcomes are a loaded graph or one
``GnnexpError`` (a one-line message with a fix), never another exception."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from omegaconf import OmegaConf

from gnnexp.errors import GnnexpError

SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _load(edges: Path, labels: Path, features: Path | None = None) -> None:
    from gnnexp.data.files import load_files

    cfg = OmegaConf.create(
        {
            "name": "fuzz",
            "source": "files",
            "edges": str(edges),
            "labels": str(labels),
            "features": str(features) if features else None,
            "undirected": True,
            "target": "classification",
            "train_ratio": 0.6,
            "val_ratio": 0.2,
            "split_seed": 0,
        }
    )
    try:
        data = load_files(cfg, Path(tempfile.gettempdir()))
    except GnnexpError as err:
        assert err.fix and "\n" not in str(err)
        return
    graph = data.graphs
    assert graph.num_nodes == graph.y.numel() and graph.x.size(0) == graph.num_nodes
    if graph.edge_index.numel():
        assert int(graph.edge_index.max()) < graph.num_nodes
    assert bool(np.isfinite(graph.x.numpy()).all())


def _good(where: Path) -> tuple[Path, Path]:
    (where / "e.csv").write_text("source,target\n0,1\n1,2\n2,0\n")
    (where / "y.csv").write_text("label\n0\n1\n0\n")
    return where / "e.csv", where / "y.csv"


cells = st.one_of(
    st.integers(-5, 10).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["", "x", "nan", "inf", "-inf", "1e400", " 1", '"2"', "0x1"]),
)
csv_text = st.lists(st.lists(cells, min_size=0, max_size=4).map(",".join), max_size=8).map("\n".join)


@SETTINGS
@given(
    content=st.one_of(st.binary(max_size=200), csv_text.map(str.encode)),
    which=st.sampled_from(["edges", "labels", "features"]),
)
def test_random_bytes_or_csv_text_in_any_file(content, which):
    with tempfile.TemporaryDirectory() as tmp:
        edges, labels = _good(Path(tmp))
        target = {"edges": edges, "labels": labels, "features": Path(tmp) / "x.csv"}[which]
        target.write_bytes(content)
        _load(edges, labels, target if which == "features" else None)


arrays = hnp.arrays(
    dtype=st.one_of(
        hnp.integer_dtypes(), hnp.floating_dtypes(), hnp.boolean_dtypes(), hnp.unicode_string_dtypes(),
        hnp.complex_number_dtypes(), hnp.datetime64_dtypes(),
    ),
    shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=5),
)  # fmt: skip


def test_features_beyond_float32_are_named_not_turned_into_inf(tmp_path):
    from gnnexp.data.files import read_features

    np.save(tmp_path / "x.npy", np.array([[0.0], [1e39], [0.0]]))
    with pytest.raises(GnnexpError, match="row 2: features of node 1 are beyond the range of 32-bit floats"):
        read_features(str(tmp_path / "x.npy"), 3)
    np.save(tmp_path / "x.npy", np.array([[0.0], [3e38], [0.0]]))  # within range: kept
    assert float(read_features(str(tmp_path / "x.npy"), 3)[1, 0]) == pytest.approx(3e38)


@SETTINGS
@given(array=arrays, which=st.sampled_from(["labels", "features"]))
@example(array=np.array([3.40282357e38, 0.0, 0.0]), which="features")  # finite, but inf as float32
def test_random_npy_arrays_as_labels_or_features(array, which):
    with tempfile.TemporaryDirectory() as tmp:
        edges, labels = _good(Path(tmp))
        path = Path(tmp) / f"{which}.npy"
        np.save(path, array)
        if which == "labels":
            _load(edges, path)
        else:
            _load(edges, labels, path)


@SETTINGS
@given(data=st.binary(max_size=300))
def test_random_bytes_as_a_checkpoint(data):
    from gnnexp.training.checkpoint import load_checkpoint

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "best.pt"
        path.write_bytes(data)
        with pytest.raises(GnnexpError):
            load_checkpoint(path)


@SETTINGS
@given(
    results=st.one_of(st.binary(max_size=100).map(lambda b: b.decode("latin-1")), st.builds(json.dumps, st.recursive(
        st.none() | st.booleans() | st.floats() | st.text(max_size=5),
        lambda children: st.lists(children, max_size=3) | st.dictionaries(
            st.sampled_from(["status", "metric", "val", "test", "overrides", "error", "accuracy", "learned"]),
            children, max_size=5),
        max_leaves=10))),
    overrides=st.text(max_size=40),
    metrics=csv_text,
)  # fmt: skip
def test_damaged_run_files_read_back_by_summarize_and_plot(results, overrides, metrics):
    from gnnexp.reporting.plots import read_metrics
    from gnnexp.sweeps.summary import find_jobs, summarize
    from gnnexp.sweeps.tables import to_markdown

    with tempfile.TemporaryDirectory() as tmp:
        job = Path(tmp) / "job"
        (job / ".hydra").mkdir(parents=True)
        (job / ".hydra" / "overrides.yaml").write_text(overrides)
        (job / "results.json").write_text(results)
        (job / "metrics.csv").write_text(metrics)
        jobs = find_jobs([Path(tmp)])
        assert len(jobs) == 1
        assert jobs[0].status in ("completed", "failed", "interrupted", "unfinished") or jobs[0].status
        to_markdown(summarize(jobs))
        try:
            read_metrics(job / "metrics.csv")
        except GnnexpError as err:
            assert err.fix
