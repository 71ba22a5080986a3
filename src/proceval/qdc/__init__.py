"""Quality, diversity and complexity (QDC) of generated datasets (Havrilla et al. 2024).

- :mod:`proceval.qdc.metrics`     pure functions: distinct-n, self-BLEU, compression ratio, Vendi, coverage
- :mod:`proceval.qdc.embeddings`  offline sentence embeddings with an on-disk cache
- :mod:`proceval.qdc.profile`     the QDC profile of a dataset or scenario set
- :mod:`proceval.qdc.report`      the self-contained HTML report and summary.json
"""
