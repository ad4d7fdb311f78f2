"""How the estimated levels are scored (``make score``, README "How well it works")."""

from __future__ import annotations

import math

import numpy as np


def average_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks 1…n, ties sharing the mean of the ranks they span."""
    values = np.asarray(values, dtype=np.float64)
    order = np.argsort(values, kind="stable")
    sorted_values = values[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_values)) + 1]
    ends = np.r_[starts[1:], len(values)]
    ranks = np.empty(len(values))
    ranks[order] = np.repeat((starts + ends + 1) / 2.0, ends - starts)
    return ranks


def rank_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rank correlation (Pearson of average ranks); NaN when either is constant."""
    ra, rb = average_ranks(a), average_ranks(b)
    ra, rb = ra - ra.mean(), rb - rb.mean()
    denominator = math.sqrt(float(ra @ ra) * float(rb @ rb))
    return float(ra @ rb) / denominator if denominator > 0 else math.nan


def top_share(model: np.ndarray, truth: np.ndarray, total: float, share: float = 0.2) -> float:
    """The part of ``total`` true notional lying in the model's top ``share`` of buckets.

    ``model`` and ``truth`` are per bucket; the top ``ceil(share × buckets)`` buckets by model
    notional are taken, and buckets tied at the cut count with the expected share a random
    pick among them would have (so a flat model scores ``share`` of what lies in the buckets).
    """
    if total <= 0:
        return math.nan
    take = math.ceil(share * len(model))
    order = np.sort(model)[::-1]
    cut = order[take - 1]
    above = model > cut
    tied = model == cut
    slots = take - int(above.sum())
    picked = truth[above].sum() + truth[tied].sum() * slots / int(tied.sum())
    return float(picked) / total
