"""The 25-Gaussian toy comparison (paper Sec. 4.5; ``workflow/rules/toy.smk``): run planning and random
streams (``runs.py``), batched ALI/GAN training (``train.py``; Adam's β1 in the released code's
convention: ``adam_convention.py``), mode coverage (``evaluate.py``,
``metrics.py``), the table, the figure and the commands (``table.py``, ``figures.py``, ``cli.py``)."""
