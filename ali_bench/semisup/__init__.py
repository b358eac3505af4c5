"""K+1-class semi-supervised ALI (paper Sec. 4.3, Tables 1-2; docs/paper-vs-code.md §6).

The authors never released this code. What is known (docs/paper-vs-code.md §6): the discriminator takes (x, z)
and outputs K+1 classes, adapting Salimans et al.'s improved-GAN script
(``train_cifar_feature_matching.py``); no feature matching. What this stage does, each piece
marked as a reconstruction in config/config.yaml:

- D's joint net ends in K logits l; the (K+1)-th, "generated", logit is fixed at 0, so
  Z(x, z) = logsumexp(l) is the logit of "real" and D(x, z) = sigmoid(Z).
- Discriminator loss (improved-GAN's): cross-entropy on labelled q-pairs (x, G_z(x)) plus
  ``unlabelled_weight`` · ½·[softplus(−Z) on unlabelled q-pairs + softplus(Z) on p-pairs (G_x(z), z)],
  which is improved-GAN's ``loss_unl`` written with softplus(Z) − Z = softplus(−Z).
- Encoder and decoder: ALI's swapped-label loss on Z, softplus(Z_unlabelled) + softplus(−Z_generated),
  updated simultaneously with D from the same forward pass (ALI's step; improved-GAN updated its
  generator after D, on a second unlabelled batch, with feature matching instead).
- Adam(3e-4, β1 0.5); 100 labelled + 100 unlabelled per step; the learning rate decays linearly to 0
  over the last third of training; the test error uses an exponential moving average of D's weights
  whose decay warms up with the step count (``average_decay``), so a short run's average moves.
- D's batch norm (``d_batchnorm``): ``joint`` (ALI's step: labelled, unlabelled and generated pairs
  in one batch), ``separate`` (one pass per group, as improved-GAN's three ``get_output`` calls), or
  ``weightnorm`` (improved-GAN's D: no batch norm, weight normalisation with data-dependent init).
- Every evaluation uses batch-norm statistics recomputed for the evaluated weights (the live ones
  and the averaged ones, see ``ali_bench/batchnorm.py``); the running averages are evaluated too,
  and the result file records both, with the K+1 error for three latent codes at test (ẑ sampled
  from q(z|x), the posterior mean, prior noise), and the error on the labelled training set.
- The ``supervised`` model, the baseline, trains the same discriminator on the labelled pairs alone (the
  cross-entropy term), its encoder left at initialisation.

The stage (``workflow/rules/semisup.smk``), module by module:

- ``models.py``: the models (``ali``, ``supervised``), each under one name from the config to the table row;
- ``settings.py``: one run's settings as the config gives them; the balanced labelled subset;
- ``model.py``: the K+1 losses on D's logits, improved-GAN's weight-normalised D, one training step;
- ``average.py``: the moving average of D's weights that the test error evaluates;
- ``evaluate.py``: batch-norm statistics recomputed for the evaluated weights, the test errors;
- ``train.py``: one resumable run, end to end; ``table.py``: the table; ``cli.py``: the commands.
"""
