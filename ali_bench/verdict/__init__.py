"""The verdict stage (``workflow/rules/verdict.smk``): one judgement per reported number that a result
table sets beside a measured one: ``consistent``, ``differs``, ``too few runs`` or ``not comparable``
(and ``not measured`` for a number the harness only quotes).

- ``statistics.py``: the decision rule on summary statistics (Welch's test, the conservative rule).
- ``protocol.py``: the protocol check, field by field, ours against the reporter's setup.
- ``comparisons.py``: which measured column of which table each reported number is judged against.
- ``table.py``: the verdict table (CSV) and its Markdown page; ``cli.py``: the ``verdict`` command.
"""
