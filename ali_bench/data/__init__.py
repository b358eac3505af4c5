"""Datasets, shared by every stage: the toy mixture (``mixture.py``) and the image datasets in their
official on-disk formats (``images.py``). Also the data stage (``workflow/rules/data.smk``):
``prepare.py`` checks, converts and hashes each split, and ``cli.py`` holds ``prepare-data``."""
