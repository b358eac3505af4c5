"""Datasets: the 25-Gaussian toy mixture (and, later, the image datasets)."""
