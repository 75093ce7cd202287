"""The claim studies: one module per study, each settling claims of the source notes.

Every study ``experiments.studies.<name>`` is split in three:

* ``measure(quick=False)``: the engine runs, returning plain arrays (no verdict, no prose);
* verdict rules: pure functions of those arrays, unit-tested on hand-made inputs
  without training (including the ``"inconclusive"`` case where a rule compares
  two means within seed noise, see :mod:`experiments.stats`);
* ``findings(measured, out)``: the figures and the :class:`~experiments.findings.Finding`
  records rendered from the measurement and the verdicts.

``run(out, *, quick=False)`` composes the three and writes ``findings.json``.
Helpers shared by several studies (steps to a threshold, step ratios, the
validation-chosen learning rate) live in :mod:`experiments.studies.analysis`.
``python -m experiments.report --only NAME`` runs one study.
"""
