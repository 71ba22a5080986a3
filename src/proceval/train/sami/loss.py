"""The SAMI objective.

For one query with C constitutions, ``matrix[i, j]`` is the mean per-token log-probability of response j (written
under constitution j) when the prompt holds constitution i: prompt tokens masked, the end-of-sequence token
counted. The loss is the mean of two cross-entropies with the diagonal as labels: over each row (which response
belongs to constitution i) and over each column (which constitution wrote response j) — a symmetric InfoNCE,
whose value bounds the conditional mutual information between constitutions and responses: I >= log C - loss.
"""

from __future__ import annotations

import math
from typing import Any


def mean_token_logprobs(logits: Any, input_ids: Any, response_mask: Any) -> Any:
    """Mean log-probability of the tokens where ``response_mask`` is 1, per sequence.

    ``logits`` [N, L, V] from a causal LM over ``input_ids`` [N, L]; ``response_mask`` [N, L] marks the response
    tokens (end-of-sequence included; prompt and padding 0). Token t is predicted by the logits at t - 1."""
    import torch

    logprobs = torch.log_softmax(logits[:, :-1].float(), dim=-1)
    picked = logprobs.gather(-1, input_ids[:, 1:].unsqueeze(-1)).squeeze(-1)
    mask = response_mask[:, 1:].to(picked.dtype)
    return (picked * mask).sum(-1) / mask.sum(-1).clamp(min=1.0)


def sami_loss(matrix: Any) -> Any:
    """Symmetric cross-entropy of ``matrix`` [B, C, C] (or [C, C]) with the diagonal as labels, averaged over B."""
    import torch
    import torch.nn.functional as F

    if matrix.dim() == 2:
        matrix = matrix.unsqueeze(0)
    b, c, _ = matrix.shape
    labels = torch.arange(c, device=matrix.device).repeat(b)
    rows = F.cross_entropy(matrix.reshape(b * c, c), labels)
    columns = F.cross_entropy(matrix.transpose(1, 2).reshape(b * c, c), labels)
    return (rows + columns) / 2


def mi_lower_bound(matrix: Any) -> float:
    """log C minus the loss: a lower bound (in nats) on the mutual information between constitution and response."""
    c = matrix.shape[-1]
    return math.log(c) - float(sami_loss(matrix))


def identification(matrix: Any) -> Any:
    """Per response (column) whether the constitution under which it is likeliest is the one that wrote it:
    a [B, C] boolean tensor."""
    import torch

    if matrix.dim() == 2:
        matrix = matrix.unsqueeze(0)
    c = matrix.shape[-1]
    return matrix.argmax(dim=1) == torch.arange(c, device=matrix.device)


def diagonal_share(matrix: Any) -> float:
    """Mean softmax probability (over each column) of the diagonal: 1/C at chance, 1 when every response is
    identified with certainty."""
    import torch

    if matrix.dim() == 2:
        matrix = matrix.unsqueeze(0)
    return float(torch.softmax(matrix, dim=1).diagonal(dim1=1, dim2=2).mean())


__all__ = ["diagonal_share", "identification", "mean_token_logprobs", "mi_lower_bound", "sami_loss"]
