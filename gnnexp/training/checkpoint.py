"""Checkpoint files: plain data, written atomically, verified when read.

A checkpoint is a dict of tensors and plain Python values, so ``torch.load(path,
weights_only=True)`` reads it without running code from the file. torch's zip container
does not notice a flipped byte inside tensor data, so the file also carries a SHA-256 of
its content, checked on load.
"""

from __future__ import annotations

import errno
import hashlib
import os
from pathlib import Path
from typing import Any

import torch

from gnnexp.errors import CheckpointError
from gnnexp.util.atomic import target_of

FORMAT = "gnnexp-checkpoint/1"


def _digest(obj: Any, h: Any) -> None:
    """Feed a canonical byte form of ``obj`` into the hash ``h``."""
    if isinstance(obj, torch.Tensor):
        t = obj.detach().cpu().contiguous()
        h.update(f"T{t.dtype}{tuple(t.shape)}".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    elif isinstance(obj, dict):
        h.update(b"D%d" % len(obj))
        for key in sorted(obj, key=repr):
            h.update(repr(key).encode())
            _digest(obj[key], h)
    elif isinstance(obj, (list, tuple)):
        h.update(b"L%d" % len(obj))
        for item in obj:
            _digest(item, h)
    else:
        h.update(repr(obj).encode())


def checksum(state: dict[str, Any]) -> str:
    """SHA-256 over everything in ``state`` except its ``checksum`` entry."""
    h = hashlib.sha256()
    _digest({k: v for k, v in state.items() if k != "checksum"}, h)
    return h.hexdigest()


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Write ``state`` to ``path`` via a temporary file renamed into place.

    A process that dies mid-write leaves the previous file intact, never a partial one.
    """
    path = target_of(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {**state, "format": FORMAT}
    payload["checksum"] = checksum(payload)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            try:
                torch.save(payload, f)
            except RuntimeError as err:  # torch's "unexpected pos": the file's write failed
                raise _write_error(err, path) from None
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as err:
        if err.filename is not None:
            raise
        raise OSError(err.errno or errno.EIO, err.strerror or str(err), str(path)) from None
    finally:
        tmp.unlink(missing_ok=True)


def _write_error(err: RuntimeError, path: Path) -> OSError:
    """The OSError (a full disk, mostly) that torch's writer turned into ``err``."""
    cause: BaseException | None = err
    while cause is not None and not isinstance(cause, OSError):
        cause = cause.__cause__ or cause.__context__
    if isinstance(cause, OSError) and cause.errno is not None:
        return OSError(cause.errno, cause.strerror or str(cause), str(path))
    return OSError(errno.EIO, "torch could not write the file", str(path))


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Read and verify a checkpoint written by :func:`save_checkpoint` (tensors on CPU)."""
    if not path.is_file():
        raise CheckpointError(f"Checkpoint {path} does not exist.", "give the path of a .pt file or run dir.")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise CheckpointError(
            f"{path} is not a readable checkpoint: it is truncated, corrupted or not a torch file "
            f"({type(err).__name__}).",
            "use another checkpoint (e.g. checkpoints/last.pt) or re-run training.",
        ) from err
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(
            f"{path} is a torch file but not a gnnexp checkpoint.",
            "give a checkpoints/best.pt or last.pt written by gnnexp train.",
        )
    if state.get("checksum") != checksum(state):
        raise CheckpointError(
            f"{path} is corrupted: its content does not match its checksum.",
            "use another checkpoint (e.g. checkpoints/last.pt) or re-run training.",
        )
    return state


def load_weights(model: torch.nn.Module, weights: dict[str, torch.Tensor], source: Path) -> None:
    """Load ``weights`` into ``model``, explaining a mismatch instead of torch's traceback."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(weights))
    unexpected = sorted(set(weights) - set(expected))
    resized = [k for k in expected.keys() & weights.keys() if expected[k].shape != weights[k].shape]
    if missing or unexpected or resized:
        if resized:
            k = sorted(resized)[0]
            detail = f"{k} is {tuple(weights[k].shape)} in the checkpoint but {tuple(expected[k].shape)} here"
        else:
            detail = f"parameters {', '.join((missing or unexpected)[:3])} do not match"
        raise CheckpointError(
            f"The weights in {source} do not fit the model this config builds ({detail}).",
            "use the dataset and model settings the checkpoint was trained with (its feature width must match).",
        )
    model.load_state_dict(weights)


def fold_index(state: dict[str, Any]) -> int | None:
    """The 0-based fold a checkpoint's weights were trained on (its split), or None.

    Checkpoints store ``fold_number`` from 1; those written before that stored ``fold``
    from 0.
    """
    number = state.get("fold_number")
    if isinstance(number, int) and number >= 1:
        return number - 1
    old = state.get("fold")
    return old if isinstance(old, int) and old >= 0 else None
