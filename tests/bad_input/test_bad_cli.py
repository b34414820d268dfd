"""Issue 12's bad-input table, command-line half: exit code 2, one line on stderr naming
the flag, no traceback, and nothing written to ``--out``. In-process (``cli.main``)."""

from __future__ import annotations

import sys

import pytest
from cases_cli import CASES

from nnlect import cli


def _fill(arg: str, tmp, file) -> str:
    return arg.replace("{tmp}", str(tmp)).replace("{file}", str(file))


@pytest.mark.parametrize("argv, code, fragment, hidden", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_command_line_exits_2_naming_the_flag(argv, code, fragment, hidden, tmp_path, capsys, monkeypatch):
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    argv = [_fill(a, tmp_path, a_file) for a in argv]
    out = tmp_path / "run"
    if argv[:1] == ["train"] and "--out" not in argv:
        argv += ["--out", str(out)]
    for module in hidden:  # as if the optional dependency were not installed
        for name in [m for m in sys.modules if m == module or m.startswith(module + ".")]:
            monkeypatch.delitem(sys.modules, name)
        monkeypatch.setitem(sys.modules, module, None)
    try:
        rc = cli.main(argv)
    except SystemExit as e:  # argparse
        rc = e.code
    err = capsys.readouterr().err
    assert rc == code, err
    assert _fill(fragment, tmp_path, a_file) in err, err
    assert "Traceback" not in err
    assert not out.exists() or not any(out.iterdir()), sorted(p.name for p in out.iterdir())
    assert a_file.read_text() == ""
    assert [p.name for p in tmp_path.iterdir() if p.name not in ("a-file", "run")] == []


def test_the_table_has_unique_ids():
    ids = [c[0] for c in CASES]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
