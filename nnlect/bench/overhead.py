"""The ``fit_overhead`` rows: what :func:`nnlect.train.fit` costs per step over a hand loop.

One tiny MLP (20-32-2, batch 64, plain SGD), so that the step itself is as cheap as a
step gets and any loop overhead shows. Three loops train it on the same data, their
repeats alternated (hand, fit step loop, fit fused, hand, ...) so that machine noise
hits all three alike:

- ``hand``: ``for b in batches: state, loss = step(state, *b, key)`` over
  :func:`nnlect.train.make_train_step`, the minibatches already cut and on the device;
- ``fit_step_loop``: ``fit(..., fused=False)``, one jitted call per step;
- ``fit_fused``: ``fit(..., fused=True)``, a whole epoch per call.

A row's ``over_hand`` is the median (min–max) over repeats of its time per step divided
by the hand loop's in the same repeat. Compilation is left out (one warm-up call each).
"""

from __future__ import annotations

import logging
import statistics
import time
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax

LOG = logging.getLogger("nnlect.bench").info  # library code logs; the CLI passes print

SETTINGS = {"full": {"steps": 400, "epochs": 4, "repeats": 7},
            "quick": {"steps": 400, "epochs": 2, "repeats": 3},
            "tiny": {"steps": 20, "epochs": 1, "repeats": 1}}
SIZES, BATCH = (20, 32, 2), 64


def _summary(values: list[float]) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def fit_overhead(mode: str = "full", *, seed: int = 0, log: Callable[[str], None] = LOG) -> dict:
    """``{"settings", "rows"}``; each row has ``loop``, ``ms_per_step`` and ``over_hand``."""
    import nnlect as nl
    from nnlect import train

    s = SETTINGS[mode]
    steps, epochs = s["steps"], s["epochs"]
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(BATCH * steps, SIZES[0])).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int32)
    model = nl.mlp(list(SIZES))
    params, opt, loss, key = model.init(jax.random.key(seed)), optax.sgd(0.01), nl.softmax_cross_entropy, jax.random.key(1)
    xd, yd = jax.device_put(x), jax.device_put(y)
    step = train.make_train_step(model, loss, opt)
    order = train.epoch_order(key, 0, len(x), BATCH)
    batches = [(xd[i], yd[i]) for i in order]
    jax.block_until_ready(batches)

    def fresh():
        return train.init_state(jax.tree.map(jnp.copy, params), opt)

    def hand() -> float:
        state = fresh()
        tic = time.perf_counter()
        for _ in range(epochs):
            for xb, yb in batches:
                state, _ = step(state, xb, yb, key)
        jax.block_until_ready(state)
        return (time.perf_counter() - tic) / (epochs * steps)

    def with_fit(fused: bool) -> Callable[[], float]:
        def run() -> float:
            tic = time.perf_counter()
            state, _ = train.fit(model, params, loss, opt, xd, yd, key=key, epochs=epochs, batch_size=BATCH,
                                 fused=fused, metrics=None)
            jax.block_until_ready(state)
            return (time.perf_counter() - tic) / (epochs * steps)

        return run

    loops = {"hand": hand, "fit_step_loop": with_fit(False), "fit_fused": with_fit(True)}
    for run in loops.values():  # compile
        run()
    times: dict[str, list[float]] = {name: [] for name in loops}
    for r in range(s["repeats"]):
        log(f"  fit_overhead repeat {r + 1}/{s['repeats']}")
        for name, run in loops.items():
            times[name].append(run())
    rows = []
    for name, values in times.items():
        ratios = [v / h for v, h in zip(values, times["hand"])]
        rows.append({"loop": name, "ms_per_step": _summary([1e3 * v for v in values]),
                     "over_hand": _summary(ratios)})
    return {"settings": {"mlp": list(SIZES), "batch": BATCH, "steps_per_epoch": steps, "epochs": epochs,
                         "repeats": s["repeats"], "optimizer": "sgd(0.01)"}, "rows": rows}


def table(result: dict) -> str:
    """Markdown of :func:`fit_overhead`'s rows."""
    st = result["settings"]
    out = [f"tiny MLP {'-'.join(map(str, st['mlp']))}, batch {st['batch']}, {st['steps_per_epoch']} steps x "
           f"{st['epochs']} epochs, {st['repeats']} alternated repeats; goal: step loop <= 1.1x, fused <= 1.0x", "",
           "| loop | ms per step | over the hand loop |", "|---|---|---|"]
    for r in result["rows"]:
        m, o = r["ms_per_step"], r["over_hand"]
        out.append(f"| {r['loop']} | {m['median']:.4f} ({m['min']:.4f}–{m['max']:.4f}) | "
                   f"{o['median']:.2f}x ({o['min']:.2f}–{o['max']:.2f}) |")
    return "\n".join(out)
