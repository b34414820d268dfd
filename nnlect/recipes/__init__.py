"""Training recipes for ``nnlect train RECIPE``, one module each.

A recipe module exposes ``NAME``, ``HELP``, ``add_arguments(parser)`` and
``run(args) -> dict``; the dict is the JSON result ``nnlect train`` writes.
"""
