"""The toy inference comparison (paper Sec. 4.5, Fig. 8): how well does each model infer z from x?

(a) ALI, the best-covering run; (b) the best-covering GAN run + an encoder trained to invert its
generator (learned inverse mapping); (c) the same GAN + an encoder and a new (x, z) discriminator
trained with the ALI objective, its decoder frozen (post-hoc learned inference); (d) a VAE with the
same encoder and decoder architectures. The paper published no setting for (b)-(d): every one is in
the config's ``toy_inference`` section.

Batch norm: every model is evaluated with the statistics the config's ``batchnorm.statistics`` names.
The frozen GAN decoder of (b) and (c) carries those statistics from training to evaluation (it is
the generator being inverted); the networks (b)-(d) train get theirs recomputed when training ends.

The stage (``workflow/rules/toy_inference.smk``), module by module: ``select.py`` picks the
best-covering ALI and GAN runs of the toy stage; ``methods.py`` builds (b)-(d) and their steps;
``train.py`` trains one method, resumably; ``evaluate.py`` measures every method on the same
held-out data; ``table.py``, ``figures.py`` and ``cli.py`` render and run it.
"""
