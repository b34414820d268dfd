"""Checkpoints of any pytree (params, a :class:`~nnlect.train.TrainState`), saved
atomically and checked on restore.

File layout: the magic line ``b"NNLECT-CKPT 1\\n"``, the SHA-256 of the payload
(32 bytes), then the payload: ``flax.serialization`` msgpack of
``{"meta": {...}, "tree": state_dict}``. We use flax.serialization rather than a
format of our own because it already round-trips NamedTuples (Optax states) and
arrays of every dtype; the checksum and the shape check are ours.

- A truncated or corrupted file fails the checksum: :class:`CheckpointError`
  naming the file.
- A checkpoint of another model (other layers, shapes or dtypes) fails against
  the ``target`` pytree: :class:`CheckpointError` naming the first leaf that differs.
- A checkpoint written by an older nnlect whose params were only renamed since is
  upgraded on restore (:data:`RENAMED`), and the message of a mismatch says so.
- Writes go to a temp file that is renamed into place, so a crash mid-write
  leaves the previous checkpoint intact.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import jax
import numpy as np

from nnlect.io import atomic_write_bytes, remove_stale_temps

MAGIC = b"NNLECT-CKPT 1\n"
FILE_NAME = "checkpoint.msgpack"  # what `nnlect train` recipes write in --out, and --resume reads



def _serialization():
    """``flax.serialization``, imported on first use: flax costs ~0.3 s at import, which
    ``import nnlect`` should not pay when no checkpoint is read or written."""
    from flax import serialization

    return serialization

def run_file(out: str | os.PathLike, *, resume: bool) -> Path:
    """``out / FILE_NAME``; with ``resume``, a missing file is an error (never a silent fresh start)."""
    path = Path(out) / FILE_NAME
    if resume and not path.is_file():
        raise FileNotFoundError(
            f"--resume: no checkpoint at {path}; run once without --resume, or pass the --out of that run"
        )
    return path


class CheckpointError(ValueError):
    """A checkpoint file that is corrupt, truncated, or of another model."""


def save(path: str | os.PathLike, tree: Any, *, meta: dict | None = None) -> Path:
    """Write ``tree`` (and JSON-able ``meta``) to ``path`` atomically; returns the path."""
    try:
        meta_text = json.dumps(meta or {}, sort_keys=True)
    except (TypeError, ValueError) as e:
        raise TypeError(f"meta: expected a JSON-serializable dict (str, numbers, lists, dicts), got {e}") from None
    host_tree = jax.tree.map(np.asarray, tree)
    serialization = _serialization()
    payload = serialization.msgpack_serialize({"meta": meta_text, "tree": serialization.to_state_dict(host_tree)})
    return atomic_write_bytes(path, MAGIC + hashlib.sha256(payload).digest() + payload)


def _read(path: str | os.PathLike) -> dict:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint: no file at {path}")
    blob = path.read_bytes()
    if not blob.startswith(MAGIC):
        raise CheckpointError(f"checkpoint {path}: not an nnlect checkpoint (bad header)")
    digest, payload = blob[len(MAGIC):len(MAGIC) + 32], blob[len(MAGIC) + 32:]
    if hashlib.sha256(payload).digest() != digest:
        raise CheckpointError(f"checkpoint {path}: checksum mismatch, the file is truncated or corrupt")
    try:
        raw = _serialization().msgpack_restore(payload)
    except Exception as e:  # msgpack's FormatError / ExtraData carry no message of their own
        raise CheckpointError(f"checkpoint {path}: the payload is not msgpack data ({type(e).__name__}); "
                              "the file was not written by nnlect.checkpoint.save") from None
    if not isinstance(raw, dict) or set(raw) != {"meta", "tree"} or not isinstance(raw["meta"], str):
        found = sorted(raw) if isinstance(raw, dict) else type(raw).__name__
        raise CheckpointError(f"checkpoint {path}: expected a payload with 'meta' and 'tree', got {found}")
    return raw


#: Param leaves renamed since 0.1.0: ``(parent node, old name, new name)``. In 0.2.0 the
#: Elman network's readout became an ordinary ``dense`` layer (nnlect.layers).
RENAMED = (("readout", "w_hy", "w"), ("readout", "b_y", "b"))


def _upgrade(state_dict: Any, parent: str = "") -> Any:
    """``state_dict`` with every :data:`RENAMED` leaf under its new name (at any depth,
    so an optimizer's moments, which mirror the params, are renamed too)."""
    if not isinstance(state_dict, dict):
        return state_dict
    renames = {old: new for node, old, new in RENAMED if node == parent}
    return {renames.get(k, k): _upgrade(v, k) for k, v in state_dict.items()}


def _leaf_paths(state_dict: Any, prefix: str = "") -> list[str]:
    if isinstance(state_dict, dict):
        if not state_dict:
            return [prefix + "/"]  # an empty node (e.g. optax.EmptyState) still has to match
        return [p for k, v in state_dict.items() for p in _leaf_paths(v, f"{prefix}/{k}")]
    return [prefix]


def load_meta(path: str | os.PathLike) -> dict:
    """The ``meta`` dict saved with the checkpoint."""
    return json.loads(_read(path)["meta"])


def restore(path: str | os.PathLike, target: Any) -> tuple[Any, dict]:
    """Read ``path`` into the structure of ``target``; returns ``(tree, meta)``.

    Arguments:
        target: a pytree of the expected structure, shapes and dtypes (for example a
            freshly initialized state); its values are not used.
    """
    raw = _read(path)
    target_paths = set(_leaf_paths(_serialization().to_state_dict(target)))
    if set(_leaf_paths(raw["tree"])) != target_paths:
        raw["tree"] = _upgrade(raw["tree"])
    saved_paths = set(_leaf_paths(raw["tree"]))
    if saved_paths != target_paths:
        extra, missing = sorted(saved_paths - target_paths), sorted(target_paths - saved_paths)
        raise CheckpointError(
            f"checkpoint {path}: does not match the model's structure: "
            f"{len(extra)} leaves only in the file {extra[:3]}, {len(missing)} only in the model {missing[:3]} "
            f"(renames since 0.1.0 already applied: {[f'{n}/{o} -> {n}/{w}' for n, o, w in RENAMED]})"
        )
    try:
        tree = _serialization().from_state_dict(target, raw["tree"])
    except (ValueError, KeyError, TypeError) as e:
        raise CheckpointError(f"checkpoint {path}: does not match the model's structure: {e}") from None
    want = jax.tree_util.tree_flatten_with_path(target)[0]
    got = jax.tree_util.tree_leaves(tree)
    for (where, expected), leaf in zip(want, got):
        name = jax.tree_util.keystr(where)
        if np.shape(leaf) != np.shape(expected) or np.asarray(leaf).dtype != np.asarray(expected).dtype:
            raise CheckpointError(
                f"checkpoint {path}: leaf {name} has shape {np.shape(leaf)} {np.asarray(leaf).dtype}, "
                f"the model expects {np.shape(expected)} {np.asarray(expected).dtype}"
            )
    return jax.tree.map(jax.numpy.asarray, tree), json.loads(raw["meta"])


def epoch_saver(path: str | os.PathLike, *, meta: dict | None = None, every: int = 1):
    """A :func:`nnlect.train.fit` callback that checkpoints the state after every ``every`` epochs.

    The file holds the :class:`~nnlect.train.TrainState`, and its meta records the epoch
    reached and the history so far (plus ``meta``), which :func:`resume` reads back.
    """
    history: list[dict] = []

    def callback(row: dict, state: Any) -> None:
        history.append(row)
        if row["epoch"] % every != 0:
            return
        try:
            save(path, state, meta={**(meta or {}), "epoch": row["epoch"], "history": history})
        except BaseException:
            # Interrupted (Ctrl-C) or failed: history[-1] must name the epoch the file really
            # holds, which is what a recipe reports; the save is atomic, so it is this row's
            # epoch only if the new file was already in place.
            try:
                held = load_meta(path).get("epoch") if os.path.exists(path) else None
            except Exception:
                held = None
            if held != row["epoch"]:
                history.pop()
            raise

    callback.history = history  # resumed runs prepend the earlier rows here
    return callback


def resume(path: str | os.PathLike, target_state: Any, *, meta: dict | None = None) -> tuple[Any, int, list[dict]]:
    """Read a checkpoint written by :func:`epoch_saver`.

    Arguments:
        target_state: a freshly initialized state of the same model and optimizer.
        meta: settings the run was started with (model config, batch size, seed...);
            any key that differs from the checkpoint's, or that the checkpoint lacks, raises
            :class:`CheckpointError`, since resuming with other settings would not continue
            the same run.

    Returns:
        ``(state, epochs_done, history)``.

    Temp files that a killed save of ``path`` left behind are removed first.
    """
    remove_stale_temps(path)
    state, saved = restore(path, target_state)
    for k, v in (meta or {}).items():
        if k not in saved:
            raise CheckpointError(f"checkpoint {path}: records no {k!r}; this run has {k}={v!r}")
        if saved[k] != v:
            raise CheckpointError(f"checkpoint {path}: was written with {k}={saved[k]!r}, this run has {k}={v!r}")
    return state, int(saved.get("epoch", 0)), list(saved.get("history", []))
