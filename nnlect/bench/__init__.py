"""The benchmark suite behind ``nnlect bench`` (see ``benchmarks/README.md``).

- :mod:`~nnlect.bench.workloads`: the fixed workloads and their analytic FLOPs;
- ``impls_jax`` (nnlect, fused), ``impls_numpy`` (handwritten NumPy / jnp references),
  ``impls_flax``, ``impls_torch``, ``rnn_support``: the implementations;
- :mod:`~nnlect.bench.measure` (timing, peak), :mod:`~nnlect.bench.env` (environment),
  :mod:`~nnlect.bench.run` (check, time, JSON), :mod:`~nnlect.bench.report` (merge, chart),
  :mod:`~nnlect.bench.profile` (per-op profiles), :mod:`~nnlect.bench.scaling` (devices).
"""
