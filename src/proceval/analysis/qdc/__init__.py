"""Quality, diversity and complexity (QDC) of generated datasets (Havrilla et al. 2024).

- :mod:`proceval.analysis.qdc.metrics`  pure functions: distinct-n, self-BLEU, compression ratio, Vendi, coverage
- :mod:`proceval.analysis.qdc.profile`  the QDC profile of a dataset or scenario set
- :mod:`proceval.analysis.qdc.compare`  profiles of several datasets side by side (``proceval qdc``)
- :mod:`proceval.analysis.qdc.report`   the self-contained HTML report and summary.json

Sentence embeddings come from :mod:`proceval.embeddings`, below both the analyses and the scenario writer
(which uses them to drop near-duplicate scenarios).
"""
