"""The "best cluster" rule: one definition, used by the API's ``/best`` and the dashboard's card.

``BEST_DEFINITION`` is the one statement of what "best" means; the OpenAPI description and the
README carry it word for word (a test checks both).
"""

from __future__ import annotations

from collections.abc import Iterable

from heatmap_engine.models import Cluster

# The filters' defaults, shared by the API and the page: every cluster of any strength within 10 %
# of the price; "best" asks for strength 0.6 by default.
DEFAULT_MIN_STRENGTH = 0.0
DEFAULT_MAX_DISTANCE_PCT = 10.0
BEST_DEFAULT_MIN_STRENGTH = 0.6

BEST_DEFINITION = (
    "Among the symbol's clusters with strength >= min_strength and a known "
    "distance_from_price <= max_distance (percent), the best is the one with the highest "
    "score = strength / (1 + distance_from_price). A strong cluster close to the price beats an "
    "equally strong one further away; a cluster 1 % away needs twice the strength of one at the "
    "price. Ties go to the stronger, then the nearer, then the lower cluster_id. While no current "
    "price is known no distance is known, so nothing qualifies and best is null."
)


def best_score(cluster: Cluster) -> float | None:
    if cluster.distance_from_price is None:
        return None
    return cluster.strength / (1.0 + cluster.distance_from_price)


def choose_best(
    clusters: Iterable[Cluster], min_strength: float, max_distance: float
) -> tuple[Cluster, float] | None:
    """The best cluster and its score (see ``BEST_DEFINITION``), or None if none qualifies."""
    scored = [
        (score, c)
        for c in clusters
        if c.strength >= min_strength
        and c.distance_from_price is not None
        and c.distance_from_price <= max_distance
        and (score := best_score(c)) is not None
    ]
    if not scored:
        return None
    score, cluster = min(
        scored,
        key=lambda sc: (-sc[0], -sc[1].strength, sc[1].distance_from_price, sc[1].cluster_id),
    )
    return cluster, score
