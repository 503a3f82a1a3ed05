"""The transformed graphs of a dataset, kept on disk so the next run loads instead of redoing them.

``loading.load_dataset`` keeps ``transform=[...]``'s result for the rest of the process;
this module keeps it under the data directory too, in
``<data_dir>/gnnexp-transformed/<dataset>/<digest>.pt``. The digest covers what the result
depends on: the dataset's settings and the stamps of the files they name (its identity in
the process cache), every transform's full settings in order, the seed of their draws
(``transforming.SEED``), this file's format and the versions of the libraries that compute
them. A changed option is another file, so an older result is never read.

The data directory may be shared, so a file there is untrusted. It is read only when the
SHA-256 record gnnexp wrote beside it (``gnnexp-sha256.json``, as for PyG's processed files,
``gnnexp.data.processed``) matches the bytes read, and those same bytes are loaded
weights-only. Anything else (a file gnnexp did not record, one changed, truncated or forged)
is ignored: the transforms run and the file is written again. A write is a temporary file
renamed over the target, so a run never reads a half-written one; a data directory that
cannot be written is simply not written. Two runs that write new files at once may each
record only their own file; the other is then unrecorded and rebuilt once.

The file is PyG's ``InMemoryDataset.save`` layout: the graphs collated (a dict of tensors),
their slices and the Data class. Only the first, seeded application is kept; a random
transform still draws anew for each training graph in each epoch (``transforming.Redrawn``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import io
import json
import os
import re
import secrets
from importlib import metadata
from pathlib import Path
from typing import Any

import torch

from gnnexp.data.loading import GraphData
from gnnexp.data.processed import MANIFEST, recorded, weights_only
from gnnexp.data.transforming import SEED, apply_transforms, specs

FOLDER = "gnnexp-transformed"
# Bump when what is stored, or how it is restored, changes: older files are then not read.
FORMAT = 1


def cached_transforms(data: GraphData, node: Any, data_dir: Path, identity: str) -> GraphData:
    """``apply_transforms(data, node)``, read from the data directory when an earlier run of the
    same settings wrote it there, and written there when not. ``identity``: everything besides
    the transforms that changes the loaded data (the dataset's settings, its files' stamps)."""
    graphs = [data.graphs] if data.level == "node" else data.graphs
    if not specs(node) or not len(graphs):
        return apply_transforms(data, node)
    # The graphs' own content too: the same settings read by other code, or a file of the
    # same name, size and time elsewhere, is another input.
    path = cache_path(data.name, node, data_dir, f"{identity}|{_content(graphs)}")
    restored = _read(path)
    if restored is not None and not _consistent(restored, len(graphs), node):
        restored = None  # recorded, yet not what these settings make: transformed again
    out = apply_transforms(data, node, restored)
    if restored is None:
        _write(path, [out.graphs] if out.level == "node" else list(out.graphs))
    return out


def cache_path(name: str, node: Any, data_dir: Path, identity: str) -> Path:
    """Where the transformed graphs of these settings are kept."""
    import torch_geometric

    key = {
        "format": FORMAT,
        "dataset": identity,
        "transforms": [[n, spec.pyg, dataclasses.asdict(spec)] for n, spec in specs(node)],
        "seed": SEED,
        # The eigensolvers and random draws of the transforms live in these, and gnnexp's
        # code that applies and stores them (an upgrade is another file).
        "versions": [torch.__version__, torch_geometric.__version__, _version("scipy"), _code()],
    }
    digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()
    folder = re.sub(r"[^A-Za-z0-9_-]", "_", name) or "dataset"  # no dots: never "..", never hidden
    return data_dir / FOLDER / folder / f"{digest[:40]}.pt"


def _content(graphs: list[Any]) -> str:
    """A digest of every tensor and value of ``graphs`` (the untransformed input)."""
    digest = hashlib.sha256()  # OpenSSL's, the fastest here (about 10 ms for Cora's 15 MB)
    for graph in graphs:
        for key in sorted(graph.keys()):
            value = graph[key]
            digest.update(key.encode())
            if isinstance(value, torch.Tensor):
                digest.update(f"{value.dtype}{tuple(value.shape)}".encode())
                digest.update(value.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().data)
            else:
                digest.update(repr(value).encode())
    return digest.hexdigest()


@functools.cache
def _code() -> str:
    """A digest of the modules that compute and store the transformed graphs."""
    here = Path(__file__).parent
    digest = hashlib.sha256()
    for name in ("transforming.py", "transforms.py", "transform_cache.py"):
        digest.update((here / name).read_bytes())
    return digest.hexdigest()[:16]


def _consistent(restored: list[Any], count: int, node: Any) -> bool:
    """The restored graphs have the shape of what the settings make: as many graphs, node
    features at least as wide as the encodings, edges between existing nodes (a recorded file
    that is not, e.g. a forged record, is transformed again rather than crashing a layer)."""
    pe = sum(spec.pe_width() for _, spec in specs(node) if spec.pe_attr is not None)
    if len(restored) != count:
        return False
    widths = set()
    for graph in restored:
        x, edge_index, n = graph.get("x"), graph.get("edge_index"), graph.num_nodes
        if x is not None:
            if x.dim() != 2 or x.size(0) != n:
                return False
            widths.add(int(x.size(1)))
        elif pe:
            return False
        if edge_index is not None and edge_index.numel():
            if edge_index.dim() != 2 or edge_index.size(0) != 2 or int(edge_index.min()) < 0:
                return False
            if int(edge_index.max()) >= n:
                return False
    return len(widths) <= 1 and all(w >= pe for w in widths)


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "none"


def _read(path: Path) -> list[Any] | None:
    """The graphs ``path`` holds, when gnnexp recorded exactly these bytes; else None."""
    from torch_geometric.data import Data
    from torch_geometric.data.separate import separate

    try:
        # Not a pipe or a device planted there, whose reading would block or never end.
        blob = path.read_bytes() if path.is_file() else b""
    except OSError:
        return None
    if recorded(path.parent).get(path.name) != hashlib.sha256(blob).hexdigest():
        return None
    try:
        stored, slices, _ = _load(blob)
        collated = Data.from_dict(stored)
        if slices is None:  # one graph: stored as it is (InMemoryDataset.collate)
            return [collated]
        count = len(next(iter(slices.values()))) - 1
        # What InMemoryDataset.get does for each index, without its per-call bookkeeping.
        return [separate(Data, collated, i, slices, decrement=False) for i in range(count)]
    except Exception:  # recorded yet not ours (a forged record): transformed again, never run
        return None


def _load(blob: bytes) -> Any:
    with weights_only():
        return torch.load(io.BytesIO(blob), weights_only=True)


def _write(path: Path, graphs: list[Any]) -> None:
    """Keep ``graphs`` at ``path`` and record its hash; a directory that cannot be written is
    left as it is (the next run transforms again)."""
    from torch_geometric.data import InMemoryDataset

    collated, slices = InMemoryDataset.collate(graphs)
    buffer = io.BytesIO()
    try:
        torch.save((collated.to_dict(), slices, type(collated)), buffer)
        blob = buffer.getvalue()
        _load(blob)
    except Exception:  # an attribute torch cannot save, or not load weights-only: never read back
        return
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        _replace(path, blob)
        record = {k: v for k, v in recorded(path.parent).items() if (path.parent / k).is_file()}
        record[path.name] = hashlib.sha256(blob).hexdigest()
        _replace(path.parent / MANIFEST, json.dumps(record, indent=1, sort_keys=True).encode())


def _replace(path: Path, blob: bytes) -> None:
    """Write ``blob`` to a new temporary file beside ``path`` and rename it over ``path``: a
    reader sees the old file or the new one, never part of one, and a link planted at
    ``path`` is replaced rather than written through."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        # O_EXCL: never a file or link planted under that name; 0o666: the umask decides who
        # else may read it, as for PyG's processed files.
        with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), "wb") as stream:
            stream.write(blob)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
