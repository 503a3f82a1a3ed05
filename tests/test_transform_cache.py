"""transform=[...] kept on disk: restored exactly, keyed by every setting, never trusted blindly.

Each test gets its own data directory whose dataset folders link to the session's (already
processed) copies, so the transformed files it writes, damages or forbids are its own.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest
import torch
from omegaconf import DictConfig

from gnnexp.config.components import declared
from gnnexp.config.compose import compose
from gnnexp.data import transform_cache, transforming
from gnnexp.data.loading import GraphData, clear_cache, load_dataset
from gnnexp.data.processed import MANIFEST
from gnnexp.data.transform_cache import FOLDER, cache_path

# Fast on each dataset, and together touching edges, edge features and PE columns (the seeded
# draw, laplacian_pe's signs, is the last test's).
SETTINGS = {
    "mutag": ["transform=[to_undirected,random_walk_pe]", "transform.random_walk_pe.walk_length=4"],
    "cora": [
        "transform=[add_self_loops,random_walk_pe,local_degree_profile]",
        "transform.random_walk_pe.walk_length=3",
    ],
}


@pytest.fixture
def private(tmp_path: Path, data_dir: Path) -> Path:
    """A data dir of its own, the session's processed datasets linked in."""
    for ds in ("mutag", "cora"):  # processed once in the session's copy
        load_dataset(_config((f"dataset={ds}",)).dataset, data_dir)
    own = tmp_path / "data"
    own.mkdir()
    for folder in ("TUDataset", "Planetoid"):
        (own / folder).symlink_to(data_dir / folder)
    return own


@functools.cache
def _config(overrides: tuple[str, ...]) -> DictConfig:  # composing takes longer than loading
    return compose(list(overrides))


def _load(ds: str, data: Path, *extra: str, settings: list[str] | None = None) -> GraphData:
    """What a new process loads: the per-process cache forgotten first."""
    clear_cache()
    cfg = _config((f"dataset={ds}", *(SETTINGS[ds] if settings is None else settings), *extra))
    return load_dataset(cfg.dataset, data, cfg.transform)


def _fresh(ds: str, data: Path, *extra: str, settings: list[str] | None = None) -> GraphData:
    """The transforms applied now, with no file involved."""
    clear_cache()
    cfg = _config((f"dataset={ds}", *(SETTINGS[ds] if settings is None else settings), *extra))
    return transforming.apply_transforms(load_dataset(cfg.dataset, data), cfg.transform)


def _graphs(data: GraphData) -> list[Any]:
    return [data.graphs] if data.level == "node" else list(data.graphs)


def _assert_same(ours: GraphData, theirs: GraphData) -> None:
    for name in ("level", "num_features", "num_edge_features", "num_classes", "pe_dim", "notes"):
        assert getattr(ours, name) == getattr(theirs, name), name
    pairs = list(zip(_graphs(ours), _graphs(theirs), strict=True))
    for a, b in pairs:
        assert sorted(a.keys()) == sorted(b.keys())
        for key in b.keys():  # noqa: SIM118  (a Data iterates over (key, value) pairs)
            assert a[key].dtype == b[key].dtype and torch.equal(a[key], b[key]), key
        assert a.num_nodes == b.num_nodes


@pytest.fixture
def transforms_run(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many graphs the transforms ran on since (zero: everything came from the file)."""
    count = [0]
    real = transforming._with_pe

    def counted(graph: Any, pe: Any) -> Any:
        count[0] += 1
        return real(graph, pe)

    monkeypatch.setattr(transforming, "_with_pe", counted)
    return count


def _file(data: Path, ds: str) -> Path:
    (path,) = (data / FOLDER / ds).glob("*.pt")
    return path


@pytest.mark.parametrize("ds", ["mutag", "cora"])
def test_a_second_run_restores_exactly_what_the_transforms_gave(
    ds: str, private: Path, transforms_run
) -> None:
    first = _load(ds, private)
    written = transforms_run[0]
    assert written == (188 if ds == "mutag" else 1)
    path = _file(private, ds)
    record = json.loads((path.parent / MANIFEST).read_text())
    assert record == {path.name: hashlib.sha256(path.read_bytes()).hexdigest()}
    second = _load(ds, private)
    assert transforms_run[0] == written  # nothing transformed again
    fresh = _fresh(ds, private)
    _assert_same(second, fresh)
    _assert_same(first, fresh)
    assert second.pe_dim == (4 if ds == "mutag" else 3)
    x = _graphs(second)[0].x
    assert x.size(1) == second.num_features and x.size(1) == (7 + 4 if ds == "mutag" else 1433 + 3 + 5)
    assert not list(path.parent.glob(".*.tmp"))  # the temporary files renamed away


def test_each_option_order_and_seed_is_another_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def where(node: dict[str, Any], identity: str = "mutag") -> Path:
        return cache_path("mutag", node, tmp_path, identity)

    seen = {where({"random_walk_pe": {}})}
    for name, cls in declared("transform").items():
        base = cls()
        seen.add(where({name: {}}))
        for f in dataclasses.fields(base):
            value = getattr(base, f.name)
            choices = f.metadata.get("choices")
            if choices:
                changed = next(c for c in choices if c != value)
            elif isinstance(value, bool):
                changed = not value
            else:
                changed = value + 1
            path = where({name: {f.name: changed}})
            assert path not in seen, f"transform.{name}.{f.name}={changed} reuses a file"
            seen.add(path)
    pair = {"to_undirected": {}, "random_walk_pe": {}}
    assert where(pair) != where(dict(reversed(pair.items())))  # the order is part of the key
    assert where(pair) != where(pair, "mutag with other settings")
    before = where(pair)
    monkeypatch.setattr(transform_cache, "SEED", 1)
    assert where(pair) != before
    monkeypatch.setattr(transform_cache, "SEED", transforming.SEED)
    monkeypatch.setattr("torch_geometric.__version__", "0.0.0")
    assert where(pair) != before
    monkeypatch.undo()
    assert where(pair) == before and before.parent == tmp_path / FOLDER / "mutag"


def test_a_changed_option_through_loading_writes_and_reads_its_own_file(private: Path) -> None:
    short = _load("mutag", private)
    longer = _load("mutag", private, "transform.random_walk_pe.walk_length=6")
    assert (short.num_features, longer.num_features) == (7 + 4, 7 + 6)
    assert len(list((private / FOLDER / "mutag").glob("*.pt"))) == 2
    assert _load("mutag", private).num_features == 7 + 4  # each reads back its own


class _Marker:
    """A pickle that creates a file when unpickled: it must never be."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> Any:
        return (Path.touch, (self.path,))


@pytest.mark.parametrize("damage", ["garbage", "truncated", "unrecorded pickle", "forged record"])
def test_a_damaged_or_foreign_file_is_rebuilt_with_the_same_numbers(
    damage: str, private: Path, tmp_path: Path, transforms_run
) -> None:
    first = _load("mutag", private)
    path = _file(private, "mutag")
    clean = path.read_bytes()
    marker = tmp_path / "ran"
    if damage == "garbage":
        path.write_bytes(os.urandom(len(clean)))
    elif damage == "truncated":
        path.write_bytes(clean[: len(clean) // 2])
    else:
        torch.save(_Marker(marker), path)
        record = json.loads((path.parent / MANIFEST).read_text())
        if damage == "unrecorded pickle":
            del record[path.name]
        else:  # the record says gnnexp wrote it: the weights-only load still refuses it
            record[path.name] = hashlib.sha256(path.read_bytes()).hexdigest()
        (path.parent / MANIFEST).write_text(json.dumps(record))
    before = transforms_run[0]
    again = _load("mutag", private)
    assert not marker.exists(), "a pickle in the transform cache ran code"
    assert transforms_run[0] == before + 188  # transformed again, not read
    _assert_same(again, first)
    assert path.read_bytes() == clean  # and written again, whole
    assert transforms_run[0] == before + 188
    _load("mutag", private)
    assert transforms_run[0] == before + 188  # the rebuilt file is read next time


def test_a_data_dir_that_cannot_be_written_gives_the_same_graphs(private: Path) -> None:
    (private / FOLDER).write_text("a file where the cache folder would go: nothing can be written\n")
    _assert_same(_load("mutag", private), _fresh("mutag", private))
    assert (private / FOLDER).is_file()


def test_a_random_transform_still_draws_per_read_after_a_restore(private: Path, transforms_run) -> None:
    resign = ["transform=[laplacian_pe]", "transform.laplacian_pe.resign=true"]
    _load("mutag", private, settings=resign)
    seen = transforms_run[0]
    restored = _load("mutag", private, settings=resign)
    assert transforms_run[0] == seen  # the seeded first application: from the file
    assert restored.redraw is not None
    train = restored.redraw(list(range(20)))
    draws = [train[i].x[:, -4:] for i in range(20)]
    assert transforms_run[0] == seen + 20  # drawn anew on each read, from the untransformed graphs
    kept = [g.x[:, -4:] for g in _graphs(restored)[:20]]
    assert all(torch.allclose(a.abs(), b.abs(), atol=1e-5) for a, b in zip(draws, kept, strict=True))
    assert sum(not torch.equal(a, b) for a, b in zip(draws, kept, strict=True)) > 5  # new signs
    _assert_same(restored, _fresh("mutag", private, settings=resign))


class _Note:
    """An attribute torch saves but a weights-only load refuses."""


def test_graphs_that_would_not_load_back_are_not_written(tmp_path: Path, transforms_run) -> None:
    from torch_geometric.data import Data

    def graphs() -> list[Data]:
        return [
            Data(
                x=torch.ones(n, 2),
                edge_index=torch.tensor([[0, 1], [1, 0]]),
                y=torch.tensor([0]),
                note=_Note(),
            )
            for n in (3, 4)
        ]

    node = {"random_walk_pe": {"walk_length": 2}}
    for _ in range(2):
        out = transform_cache.cached_transforms(
            GraphData("odd", "graph", graphs(), 2, 2), node, tmp_path, "odd"
        )
        assert out.num_features == 4 and out.graphs[1].x.shape == (4, 4)
    assert transforms_run[0] == 4  # transformed in both runs: nothing was kept
    assert not (tmp_path / FOLDER).exists()


def test_other_code_or_other_input_content_is_another_file(
    monkeypatch: pytest.MonkeyPatch, private: Path
) -> None:
    """The same settings after an upgrade of gnnexp's transform code, or over other graphs
    (another reader, a same-sized file elsewhere), never read the older file."""
    _load("mutag", private)
    (first,) = (private / FOLDER / "mutag").glob("*.pt")
    monkeypatch.setattr(transform_cache, "_code", lambda: "another version")
    _load("mutag", private)
    assert len(list((private / FOLDER / "mutag").glob("*.pt"))) == 2
    monkeypatch.undo()
    clear_cache()
    cfg = _config(("dataset=mutag", *SETTINGS["mutag"]))
    loaded = load_dataset(cfg.dataset, private)
    changed = dataclasses.replace(loaded, graphs=[g.clone() for g in loaded.graphs])
    changed.graphs[0].x[0, 0] += 1
    identity = "same settings"
    transform_cache.cached_transforms(loaded, cfg.transform, private, identity)
    transform_cache.cached_transforms(changed, cfg.transform, private, identity)
    files = set((private / FOLDER / "mutag").glob("*.pt"))
    assert first in files and len(files) == 4


def test_a_recorded_file_of_the_wrong_shape_is_transformed_again(private: Path, transforms_run) -> None:
    """A forged record over graphs narrower than their encodings: rebuilt, never fed to a layer."""
    first = _load("mutag", private)
    path = _file(private, "mutag")
    stored, slices, cls = torch.load(path, weights_only=True)
    stored["x"] = stored["x"][:, :3]  # narrower than the 4 PE columns
    torch.save((stored, slices, cls), path)
    (path.parent / MANIFEST).write_text(
        json.dumps({path.name: hashlib.sha256(path.read_bytes()).hexdigest()})
    )
    before = transforms_run[0]
    again = _load("mutag", private)
    assert transforms_run[0] == before + 188
    _assert_same(again, first)


def test_a_pipe_planted_as_the_record_is_ignored(tmp_path: Path) -> None:
    """Reading it would block for ever: a regular file of bounded size only."""
    import signal

    from gnnexp.data.processed import recorded

    os.mkfifo(tmp_path / MANIFEST)

    def hung(signum: int, frame: Any) -> None:
        raise TimeoutError("recorded() blocked on a pipe")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(20)
    try:
        assert recorded(tmp_path) == {}
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.mark.parametrize("dataset", ["cora_words", "nations"])
def test_transforms_on_typed_and_knowledge_graphs_are_one_line(gnnexp, dataset: str) -> None:
    ran = gnnexp(f"dataset={dataset}", "transform=[normalize_features]", "trainer.max_epochs=1")
    assert ran.code == 2, ran.err
    assert "transform=[...] applies to graphs of one node and edge type" in ran.err
    assert "Traceback" not in ran.err and len(ran.err.strip().splitlines()) == 1
