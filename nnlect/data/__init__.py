"""Data sets: toy problems of the lecture, MNIST, and text corpora."""
