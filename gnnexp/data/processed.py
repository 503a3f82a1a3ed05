"""PyG's processed files: loaded only when gnnexp wrote them, and never fully unpickled.

PyG (and ogb) build ``processed/*.pt`` from a dataset's raw files once and load them with
``torch.load`` afterwards, falling back to full unpickling, which runs any code a pickle
names, when the weights-only load fails. A data directory may be shared, so gnnexp treats
those files as untrusted: after a build it records each file's SHA-256 in
``processed/gnnexp-sha256.json``; before the next load a processed directory whose files do
not all match that record (a file gnnexp did not write, or one changed since) is deleted and
rebuilt from the raw files. While PyG builds or loads, ``torch.load`` is held to weights-only
mode (torch's ``TORCH_FORCE_WEIGHTS_ONLY_LOAD``), so no pickle runs code even if a file is
swapped between the check and the load, or the record itself was forged: such a file fails
to load instead.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from gnnexp.errors import DataError

MANIFEST = "gnnexp-sha256.json"
MANIFEST_MAX_BYTES = 1 << 20  # a SHA-256 per file: far more files than any dataset has
FORCE_SAFE = "TORCH_FORCE_WEIGHTS_ONLY_LOAD"
FORCE_UNSAFE = "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _files(processed: Path) -> dict[str, Path]:
    return {
        p.relative_to(processed).as_posix(): p
        for p in sorted(processed.rglob("*"))
        if p.name != MANIFEST and not p.is_dir()
    }


def recorded(processed: Path) -> dict[str, str]:
    """The SHA-256 of each file in ``processed`` as gnnexp recorded it (empty: no usable record)."""
    path = processed / MANIFEST
    try:
        # A regular file of a record's size only: a pipe or device planted there would block
        # the read, or never end it.
        if not path.is_file() or path.stat().st_size > MANIFEST_MAX_BYTES:
            return {}
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(record, dict):
        return {}
    return {str(k): str(v) for k, v in record.items()}


def _trusted(processed: Path) -> bool:
    """Every file in ``processed`` is one gnnexp recorded, unchanged (an empty dir is)."""
    files = _files(processed)
    if not files:
        return True
    record = recorded(processed)
    return set(record) == set(files) and all(p.is_file() and record[k] == sha256(p) for k, p in files.items())


def _stamp(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_size, stat.st_mtime_ns


@contextmanager
def verified(processed_dirs: list[Path]) -> Iterator[None]:
    """Build or load a PyG dataset whose processed files live in ``processed_dirs``.

    Before: an unverified directory is removed (PyG rebuilds it). During: ``torch.load`` is
    weights-only. After: what PyG wrote is recorded (a read-only data dir records nothing).
    """
    before: dict[Path, dict[str, tuple[int, int]]] = {}
    for processed in processed_dirs:
        if not processed.is_dir():
            continue
        if _trusted(processed):
            before[processed] = {k: _stamp(p) for k, p in _files(processed).items()}
            continue
        raw = processed.parent / "raw"
        if not raw.is_dir() or not any(raw.iterdir()):
            # Nothing to rebuild it from here (a copy of processed files alone): not deleted.
            raise DataError(
                f"{processed} holds files gnnexp did not write (or that changed since), which it will "
                f"not load, and {raw} has no raw files to rebuild them from.",
                f"put the raw files in {raw} (or delete {processed} and let PyG download them), "
                "or point GNNEXP_DATA_DIR at a copy that has them.",
            )
        try:
            shutil.rmtree(processed)
        except OSError as err:
            raise DataError(
                f"{processed} holds files gnnexp did not write (or that changed since), which it will "
                f"not load, and cannot remove them ({err.strerror or err}).",
                f"delete {processed} (PyG rebuilds it from the raw files), or point GNNEXP_DATA_DIR "
                "at a writable copy of the raw files.",
            ) from err
    with weights_only():
        yield
    for processed in processed_dirs:
        if processed.is_dir():
            _record(processed, before.get(processed, {}))


@contextmanager
def weights_only() -> Iterator[None]:
    """Every ``torch.load`` inside is weights-only, whatever its caller (PyG's fallback) asks."""
    # A user's TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD beside ours would make torch refuse every load.
    saved = {name: os.environ.pop(name, None) for name in (FORCE_SAFE, FORCE_UNSAFE)}
    os.environ[FORCE_SAFE] = "1"
    try:
        with warnings.catch_warnings():
            # PyG's note before its (now weights-only) second try: the failure is reported.
            warnings.filterwarnings("ignore", message="Weights only load failed")
            yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _record(processed: Path, verified_stamps: dict[str, tuple[int, int]]) -> None:
    """Write the record of ``processed``, hashing only files new or changed since verified."""
    from gnnexp.util.atomic import atomic_file

    record = recorded(processed)
    files = _files(processed)
    unchanged = {k for k, p in files.items() if verified_stamps.get(k) == _stamp(p) and k in record}
    if unchanged == set(files) and set(record) == set(files):
        return
    fresh = {k: record[k] if k in unchanged else sha256(p) for k, p in files.items()}
    try:
        with atomic_file(processed / MANIFEST, "w") as stream:
            json.dump(fresh, stream, indent=1, sort_keys=True)
    except (OSError, DataError):  # a read-only data dir: the files are checked again next time
        pass
