"""Data sets: toy problems of the lecture, MNIST, and text corpora."""

from nnlect.data.batching import batches

__all__ = ["batches"]
