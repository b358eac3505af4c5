"""Conditional ALI (paper Sec. 4.4, Fig. 7; ``workflow/rules/conditional.smk``): the grid of one z
decoded under the paper's conditions (``figures.py``) and its command (``cli.py``). The conditional
model itself is trained by the image stage's trainer (``image-train --conditional``,
``ali_bench/images/train.py``) and built in ``ali_bench/nets/conditional.py``."""
