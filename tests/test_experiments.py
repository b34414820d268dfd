"""The lecture's claims, rerun: ``nnlect tour --small`` must find every claim holding
and write one figure per claim; the building blocks behave as documented."""

from __future__ import annotations

import re

import numpy as np
import pytest

from nnlect import cli
from nnlect.experiments import NAMES, _common, load


@pytest.fixture(scope="module")
def small_tour(tmp_path_factory):
    out = tmp_path_factory.mktemp("tour")
    import contextlib
    import io

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = cli.main(["tour", "--small", "--quiet", "--out", str(out)])
    return code, buffer.getvalue(), out


@pytest.mark.long
def test_every_claim_of_the_lecture_holds(small_tour):
    code, text, _ = small_tour
    assert code == 0, text
    assert f"{len(NAMES)} of {len(NAMES)} claims hold" in text
    assert "DOES NOT HOLD" not in text and "SKIPPED" not in text


@pytest.mark.long
def test_the_tour_writes_one_figure_per_claim_and_a_summary(small_tour):
    _, text, out = small_tour
    for name in NAMES:
        png = out / f"{name}.png"
        assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n"), name
        assert png.stat().st_size > 10_000, name  # a drawn figure, not an empty canvas
        assert f"[figure: {png}]" in text
    assert (out / "SUMMARY.md").read_text().strip("`\n") == text.strip()
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.long
def test_the_summary_reports_measured_numbers(small_tour):
    _, text, _ = small_tour
    bound = re.search(r"(\d+) updates <= Novikoff bound \(R/gamma\)\^2 = (\d+)", text)
    assert bound and int(bound.group(1)) <= int(bound.group(2))
    ratios = dict(re.findall(r"(sigmoid|tanh|relu) ([\d.e+-]+)(?:,|\n)", text.split("layer 1 / layer 10 at init:")[1]))
    assert float(ratios["sigmoid"]) < 1e-3 < float(ratios["relu"])
    held, unigram = map(float, re.search(r"held-out ([\d.]+) bits/char vs unigram entropy ([\d.]+)", text).groups())
    assert held < unigram


def test_perceptron_never_fits_xor_and_stops_updating_on_separable_data():
    claim = load("perceptron").run(small=True)
    r = claim.numbers
    assert r["accuracy_xor"] <= 0.75 and all(m > 0 for m in r["mistakes_xor"])
    first_clean = r["mistakes_separable"].index(0)
    assert all(m == 0 for m in r["mistakes_separable"][first_clean:])
    fig = claim.figure()
    assert len(fig.axes) == 3


def test_vanishing_gradient_norms_shrink_towards_the_input_with_sigmoid():
    from nnlect.experiments import vanishing_gradients

    r = vanishing_gradients.gradient_norms("sigmoid", steps=1)
    norms = np.asarray(r["layer_norms"])
    assert norms.shape == (10,)
    assert np.all(np.diff(np.log(norms)) > 0)  # every layer closer to the output gets more gradient


def test_save_figure_writes_png_atomically(tmp_path):
    fig, axes = _common.new_figure(2)
    axes[0].plot([0, 1], [1, 0])
    path = _common.save_figure(fig, tmp_path / "sub" / "f.png")
    assert path.read_bytes().startswith(b"\x89PNG")
    assert [p.name for p in path.parent.iterdir()] == ["f.png"]


def test_an_unknown_experiment_is_named_in_the_error():
    with pytest.raises(ValueError, match=r"experiment: expected one of .*'perceptron'.*got 'perceptrons'"):
        load("perceptrons")


def test_importing_nnlect_does_not_import_matplotlib():
    import subprocess
    import sys

    code = "import sys, nnlect, nnlect.experiments; print('matplotlib' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"
