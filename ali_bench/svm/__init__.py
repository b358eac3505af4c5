"""The SVHN L2-SVM stage (paper Table 1; ``workflow/rules/svm.smk``): encoder features of the image
models (``features.py``), the released code's protocol of 100 random L2-SVMs (``fit.py``), the table
(``table.py``) and the commands (``cli.py``). It reads the image stage's models (``ali_bench.images``)."""
