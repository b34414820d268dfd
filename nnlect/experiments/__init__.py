"""The lecture's claims as functions that return their numbers (and figures).

Each experiment runs on generated data in seconds on a CPU and returns a plain
dict, shared by ``nnlect tour``, the notebooks and the tests.
"""
