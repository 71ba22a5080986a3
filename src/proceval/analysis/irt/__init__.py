"""Item response theory: response matrices and marginal-maximum-likelihood IRT models.

Models
  ``rasch``  P(correct) = σ(θ − b)                        (discrimination fixed at 1)
  ``1pl``    P(correct) = σ(a(θ − b))                     (one discrimination shared by all items)
  ``2pl``    P(correct) = σ(a_j(θ − b_j))
  ``3pl``    P(correct) = c_j + (1 − c_j) σ(a_j(θ − b_j))  (c_j: guessing, Beta prior)
  ``grm``    graded response model for ordered ratings: P(X ≥ k) = σ(a_j(θ − b_jk))

Estimation is marginal maximum likelihood by EM (Bock–Aitkin) with θ ~ N(0, 1) on a fixed quadrature grid.
Everything is a matrix product over (persons × items) and (items × quadrature points), so a 5,000 × 200
matrix fits in about a second. Missing answers (NaN) simply do not contribute. Abilities are EAP estimates
with posterior standard deviations; item standard errors come from the cross-product of the persons'
marginal score vectors (the empirical information, as in mirt's ``crossprod``), mapped to the reported
parameterisation by the delta method.

Items that everyone answered the same way, items with fewer than ``min_responses`` answers and respondents
with no usable answers cannot be estimated: they are excluded and listed with the reason, never returned as NaN.

Modules: :mod:`~proceval.analysis.irt.matrix` (response matrices), :mod:`~proceval.analysis.irt.model` (the
fitted model: curves, information, tables), :mod:`~proceval.analysis.irt.fit` (screening, choosing the
estimator, item fit), :mod:`~proceval.analysis.irt.binary` and :mod:`~proceval.analysis.irt.grm` (the EM
estimators), :mod:`~proceval.analysis.irt.files` (``proceval irt``), :mod:`~proceval.analysis.irt.analysis`
(the registered analysis).
"""

from proceval.analysis.irt import analysis  # noqa: F401  (importing registers the analysis)
from proceval.analysis.irt.files import run_irt, write_irt_outputs
from proceval.analysis.irt.fit import fit_irt
from proceval.analysis.irt.matrix import (
    MatrixKind,
    ResponseMatrix,
    concat_persons,
    load_matrices,
    matrix_from_frame,
    read_matrix_csv,
)
from proceval.analysis.irt.model import BINARY_MODELS, MODELS, ORDINAL_MODELS, IrtFit

__all__ = ["BINARY_MODELS", "MODELS", "ORDINAL_MODELS", "IrtFit", "MatrixKind", "ResponseMatrix",
           "concat_persons", "fit_irt", "load_matrices", "matrix_from_frame", "read_matrix_csv", "run_irt",
           "write_irt_outputs"]
