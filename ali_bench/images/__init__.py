"""ALI on images (paper Sec. 4.1-4.2, Figs. 2-6; ``workflow/rules/images.smk``): the fast resumable
training loop, also the conditional model's (``train.py``), samples, reconstructions, interpolations
and the label judge (``figures.py``), and the commands (``cli.py``)."""
