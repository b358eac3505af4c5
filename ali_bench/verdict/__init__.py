"""The verdict stage (``workflow/rules/verdict.smk``): one judgement per reported number that a result
table sets beside a measured one: ``consistent``, ``differs``, ``too few runs`` or ``not comparable``
(and ``not measured`` for a number the harness only quotes).

- ``statistics.py``: the decision rule on summary statistics (Welch's test, the conservative rule).
- ``protocol.py``: the protocol check, field by field, ours against the reporter's setup.
- ``comparisons.py``: which measured column of which table each reported number is judged against.
- ``table.py``: the verdict table (CSV) and its Markdown page; ``cli.py``: the ``verdict`` command.

``JUDGED_TABLES`` lives here, importing only the dataset registry (no torch), because the workflow
reads it in every job (``workflow/rules/common.smk``), where nothing heavy may be imported.
"""

from ali_bench.data.registry import svm_tables

# The result tables that set a reported number beside a measured one, by file stem
# (ali_bench/verdict/comparisons.py says which number each is judged against): one L2-SVM table per
# dataset with the svm stage (svhn_table, digits_svm_table, ...).
JUDGED_TABLES = ("toy_table", *svm_tables(), "semisup_table")
