"""Subcommands of the ``nnlect`` CLI, one module each (found by :mod:`nnlect.cli`)."""
