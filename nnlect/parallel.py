r"""Data parallelism with ``jax.sharding``: one jitted step, the batch split over devices.

Data-parallel SGD computes the lecture's gradient of the mean loss over a minibatch of
``B`` examples on ``D`` devices at once: device ``d`` holds ``B / D`` examples and a full
copy of the weights, computes :math:`\partial E_d / \partial w` on its slice, and the
devices sum their parts (an all-reduce) so every copy takes the same step

.. math:: w \leftarrow w - \eta \, \frac{1}{B} \sum_{d=1}^{D} \sum_{p \in \text{slice}_d}
          \frac{\partial E_p}{\partial w}.

Nothing in the model changes: we place the data (``NamedSharding`` over a mesh axis
named ``"data"``) and XLA's partitioner inserts the all-reduce.

- :func:`setup` — ``mesh = setup(args.data_parallel)``: a mesh over all local devices or None.
- :func:`data_parallel_mesh`, :func:`check_divisible`, :func:`replicate`, :func:`shard_batch`.
- Multi-host: :func:`initialize` (``jax.distributed.initialize``) and :func:`host_local_batch`
  (``jax.make_array_from_process_local_data``), see docs/scaling.md.

Why ``AxisType.Auto``: ``jax.make_mesh`` defaults to ``AxisType.Explicit`` in jax 0.10,
where a sharding is part of each array's type and a contraction over the sharded axis
(the backward pass's ``x.T @ delta`` sums over the batch) raises ``ShardingTypeError``
unless every such ``dot`` names its output sharding. The models here are written as
plain ``jnp``, so we choose ``Auto`` deliberately: shardings are placement hints and the
partitioner decides where the all-reduce goes.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import AxisType, Mesh, NamedSharding, PartitionSpec as P

Array = Any
DATA = "data"  # the mesh axis the batch is split over

# With 2+ simulated CPU devices, XLA:CPU runs each device on its own thread and the
# collectives of many asynchronously dispatched steps can interleave until a rendezvous
# times out ("rendezvous ... may be stuck") and aborts the process. Python loops over
# steps on a CPU mesh therefore block on the result every SYNC_EVERY steps (see
# :func:`needs_sync`); a whole epoch inside one XLA call (lax.scan) is one dispatch.
SYNC_EVERY = 4


def data_parallel_mesh(devices: Sequence[Any] | None = None) -> Mesh:
    """A 1-D mesh with axis ``"data"`` over ``devices`` (default: all devices of all hosts).

    The axis type is ``AxisType.Auto`` (see the module docstring for why not Explicit).
    """
    devices = list(jax.devices() if devices is None else devices)
    if not devices:
        raise ValueError("devices: expected at least one device, got an empty list")
    return jax.make_mesh((len(devices),), (DATA,), axis_types=(AxisType.Auto,), devices=devices)


def setup(data_parallel: bool, devices: Sequence[Any] | None = None) -> Mesh | None:
    """What a recipe calls FIRST with ``args.data_parallel``: a mesh over all devices, or None.

    ``fit(..., mesh=setup(args.data_parallel))`` trains on one device when the flag is off.
    Multi-host: when ``NNLECT_COORDINATOR`` (plain GPU hosts) or ``NNLECT_DISTRIBUTED=1``
    (TPU pods, SLURM: auto-detected) is set, this joins the run with :func:`initialize`
    first, so ``nnlect train RECIPE --data-parallel`` runs unchanged on every host; that
    must happen before the recipe runs any JAX computation.
    """
    if not data_parallel:
        return None
    maybe_initialize()
    return data_parallel_mesh(devices)


def maybe_initialize() -> bool:
    """:func:`initialize` when ``NNLECT_COORDINATOR`` or ``NNLECT_DISTRIBUTED=1`` asks for a
    multi-host run and it has not happened yet; returns whether this process is in one."""
    wants = os.environ.get("NNLECT_COORDINATOR") or os.environ.get("NNLECT_DISTRIBUTED") == "1"
    if wants and not jax.distributed.is_initialized():
        initialize()
    return jax.distributed.is_initialized()


def size(mesh: Mesh) -> int:
    """The number of devices the batch is split over."""
    return int(mesh.shape[DATA])


def check_divisible(batch_size: int, mesh: Mesh, name: str = "batch_size") -> None:
    """Raise a ValueError naming both numbers unless ``batch_size`` divides by the device count."""
    n = size(mesh)
    if batch_size % n:
        lower, upper = (batch_size // n) * n, (batch_size // n + 1) * n
        hint = f"{lower} or {upper}" if lower else f"{upper}"
        raise ValueError(
            f"{name}: expected a multiple of the {n} devices of the data-parallel mesh, got {batch_size} "
            f"({batch_size} % {n} = {batch_size % n}); use e.g. {hint}"
        )


def batch_sharding(mesh: Mesh, ndim: int = 1, axis: int = 0) -> NamedSharding:
    """Split axis ``axis`` of a rank-``ndim`` array over ``"data"``; every other axis whole."""
    spec: list[str | None] = [None] * ndim
    spec[axis] = DATA
    return NamedSharding(mesh, P(*spec))


def replicated(mesh: Mesh) -> NamedSharding:
    """A full copy on every device of ``mesh``."""
    return NamedSharding(mesh, P())


def _put(leaf: Any, sharding: NamedSharding) -> Array:
    """``leaf`` (the same value on every host) placed with ``sharding``."""
    if isinstance(leaf, jax.Array) and leaf.sharding.is_equivalent_to(sharding, leaf.ndim):
        return leaf  # already in place: no copy, and donation of the buffer still works
    if jax.process_count() == 1:
        return jax.device_put(leaf, sharding)
    dtype = getattr(leaf, "dtype", None)
    if dtype is not None and jnp.issubdtype(dtype, jax.dtypes.prng_key):
        data = _put(jax.random.key_data(leaf), NamedSharding(sharding.mesh, P(*sharding.spec)))
        return jax.random.wrap_key_data(data, impl=jax.random.key_impl(leaf))
    value = np.asarray(leaf)
    return jax.make_array_from_process_local_data(sharding, value, value.shape)


def replicate(mesh: Mesh, tree: Any) -> Any:
    """Every leaf of ``tree`` (params, optimizer state, a dataset) copied to every device.

    Multi-host: every host must pass the same values.
    """
    return jax.tree.map(lambda leaf: _put(leaf, replicated(mesh)), tree)


def shard_batch(mesh: Mesh, x: Any, axis: int = 0) -> Array:
    """The GLOBAL batch ``x`` ``(B, ...)`` split along ``axis`` over the mesh: ``B / D`` per device.

    Multi-host: every host passes the same global batch and keeps its own slice. For
    per-host input pipelines (each host loads only its share), use :func:`host_local_batch`.
    """
    check_divisible(x.shape[axis], mesh, name=f"batch (axis {axis} of shape {tuple(x.shape)})")
    return _put(x, batch_sharding(mesh, np.ndim(x), axis))


def host_local_batch(mesh: Mesh, local_x: Any) -> Array:
    """A global batch assembled from each host's share ``local_x`` ``(B / H, ...)``.

    Every one of the ``H`` hosts calls this with its own rows (e.g. rows
    ``[h B/H, (h+1) B/H)`` of the global batch); the result is one ``(B, ...)`` array split
    over the devices of all hosts, via ``jax.make_array_from_process_local_data``.
    """
    local_x = np.asarray(local_x)
    check_divisible(local_x.shape[0], mesh_local_view(mesh), name=f"host-local batch (shape {local_x.shape})")
    return jax.make_array_from_process_local_data(batch_sharding(mesh, local_x.ndim), local_x)


def mesh_local_view(mesh: Mesh) -> Mesh:
    """A mesh over this host's devices of ``mesh`` (for per-host divisibility checks)."""
    local = [d for d in mesh.devices.flat if d.process_index == jax.process_index()]
    return Mesh(np.array(local), (DATA,), axis_types=(AxisType.Auto,))


def constrain_batch(mesh: Mesh | None, x: Array, axis: int = 0) -> Array:
    """Inside ``jit``: ask the partitioner to keep ``x`` split along ``axis`` (no-op without a mesh)."""
    if mesh is None:
        return x
    return jax.lax.with_sharding_constraint(x, batch_sharding(mesh, x.ndim, axis))


def needs_sync(mesh: Mesh | None) -> bool:
    """True on a multi-device CPU mesh, where loops must block every :data:`SYNC_EVERY` steps."""
    return mesh is not None and mesh.devices.size > 1 and mesh.devices.flat[0].platform == "cpu"


def initialize(coordinator_address: str | None = None, num_processes: int | None = None,
               process_id: int | None = None, *, cpu: bool = False, **kwargs) -> None:
    """Join a multi-host run: ``jax.distributed.initialize`` before any other JAX call.

    On TPU pod slices and SLURM/Open MPI clusters every argument is auto-detected; on
    plain GPU hosts pass ``coordinator_address="host0:1234"``, ``num_processes`` and this
    host's ``process_id`` (or set ``NNLECT_COORDINATOR``, ``NNLECT_NUM_PROCESSES``,
    ``NNLECT_PROCESS_ID``). Afterwards ``jax.devices()`` lists the devices of every host and
    :func:`data_parallel_mesh` spans them all. ``cpu=True`` or ``JAX_PLATFORMS=cpu`` (CPU-only
    hosts, and the tests,
    which run two processes of 4 simulated CPU devices each) selects the gloo CPU
    collectives, without which cross-process all-reduces on CPU are not implemented.
    Other keyword arguments go to ``jax.distributed.initialize``.
    See docs/scaling.md for the full recipe.
    """
    if cpu or os.environ.get("JAX_PLATFORMS") == "cpu":
        jax.config.update("jax_cpu_collectives_implementation", "gloo")

    coordinator_address = coordinator_address or os.environ.get("NNLECT_COORDINATOR")
    if num_processes is None and "NNLECT_NUM_PROCESSES" in os.environ:
        num_processes = int(os.environ["NNLECT_NUM_PROCESSES"])
    if process_id is None and "NNLECT_PROCESS_ID" in os.environ:
        process_id = int(os.environ["NNLECT_PROCESS_ID"])
    jax.distributed.initialize(coordinator_address, num_processes, process_id, **kwargs)
