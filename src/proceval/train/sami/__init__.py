"""SAMI (Fränken et al. 2024): fine-tune a model so that its responses carry the constitution they were written
under, by maximising a lower bound on the mutual information between constitutions and responses.

constitutions → queries → generate (responses under each constitution) → loss/trainer (symmetric InfoNCE through
:func:`proceval.train.fit.fit`) → evaluate (MI bound, identification, objective proxies, judge win rates).
"""
