"""Weighted zero bias: unbiased crossings plus pT-hat slices, each event weighted by its share of crossings.

Rates at 0.1–10 kHz out of ~28.6 MHz are fractions of 10⁻⁴–10⁻⁶ of the bunch crossings. Counting
them in an unbiased zero-bias (ZB) sample needs 10⁶–10⁷ crossings; the hard tail that sets them is
cheap to generate directly. The mixture built here is what trigger rate studies use: unbiased
minimum bias for the soft bulk, QCD pT-hat slices for the hard tail, and the electroweak processes.

**Model of a crossing.** 1 + K inelastic interactions with K ~ Poisson(μ) (μ = ``pileup_mean``, the
generator's convention), each with a pT-hat (for minimum bias: the hardest multiparton interaction).
The mixture stratifies crossings by their *hardest* interaction. With q(b) = σ(pT-hat ≥ b)/σ_inel
(from the slices' cross-sections; the last slice is open-ended), the share of crossings whose hardest
interaction lies below b is

    G(b) = (1 − q(b)) · exp(−μ q(b)).

* **unbiased** — the generated crossings whose hardest interaction is below X₀ (the lowest slice
  edge) are kept; the others are vetoed: the slices stand for them. This is the overlap removal, so
  no crossing is counted twice. The N_soft kept crossings stand for G(X₀), weight G(X₀) / N_soft
  each. (Normalising to the analytic share rather than to the count matters: how many crossings the
  veto removes also depends on the few hard interactions of a finite pile-up pool.)
* **slice i** [b_i, b_{i+1}) — the hard interaction, overlaid with pile-up drawn from the pool's
  interactions *softer than it* (so crossings with several hard interactions are there too): the
  crossings whose hardest interaction is in the slice, share G(b_{i+1}) − G(b_i), weight that / N_i.
  (Approximations: within a slice the hardest interaction follows the slice's own pT-hat spectrum,
  and the pile-up count stays Poisson(μ); both are exact as μ q → 0.)
* **electroweak** (DY, W, tt̄: QCD slices make no W, Z or top) — expected number per crossing
  (1 + μ) σ_e / σ_inel, weight (1 + μ) σ_e / σ_inel per generated event.

The QCD shares add up to 1: every crossing is represented once.

Rates use the normalised weights, R(t) = R₀ Σ_{s>t} w / Σ w, and the statistics the effective
number of events n_eff = (Σ w)² / Σ w² (equal to the count for equal weights).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from wnae.data.samples import SampleInfo
from wnae.errors import DataError

__all__ = ["MixtureWeights", "ZeroBiasMixture", "effective_count", "event_weights", "mixture_weights"]


def effective_count(weights: np.ndarray) -> float:
    """n_eff = (Σw)² / Σw² (0 for no weight)."""
    w = np.asarray(weights, dtype=float)
    s2 = float(np.dot(w, w))
    return float(w.sum()) ** 2 / s2 if s2 > 0 else 0.0


@dataclass(frozen=True)
class MixtureWeights:
    """Per-generated-event weights of the mixture's samples (share of bunch crossings per event)."""

    weights: dict[str, float]
    veto_pthat_gev: float
    summary: dict[str, Any]


def mixture_weights(
    *,
    sigma_inel_pb: float,
    pileup_mean: float,
    unbiased: tuple[str, int],
    veto_pthat_gev: float,
    slices: dict[str, tuple[float, int]],
    electroweak: dict[str, tuple[float, int]] | None = None,
) -> MixtureWeights:
    """Weights of the components (see the module doc).

    Args:
        sigma_inel_pb: σ_inel of the minimum-bias generator, pb.
        pileup_mean: μ, mean pile-up interactions beside the first.
        unbiased: (name, soft crossings kept after the veto) of the unbiased sample.
        veto_pthat_gev: X₀, the lowest slice edge.
        slices: name → (σ_i in pb, generated events) of each pT-hat slice, in increasing pT-hat.
        electroweak: name → (σ in pb, generated events).

    Example:
        >>> w = mixture_weights(sigma_inel_pb=8e10, pileup_mean=0.0, unbiased=("zb", 999),
        ...                     veto_pthat_gev=30.0, slices={"s": (8e7, 100)})
        >>> w.weights["zb"], round(w.weights["s"], 9)   # p = 1e-3: 1e-3 of crossings over 100 events
        (0.001, 1e-05)
    """
    if not sigma_inel_pb > 0 or not math.isfinite(sigma_inel_pb):
        msg = f"the weighted zero bias needs a positive inelastic cross-section, got {sigma_inel_pb} pb"
        raise DataError(msg)
    mu = float(pileup_mean)
    p_i = {name: sigma / sigma_inel_pb for name, (sigma, _) in slices.items()}
    p = sum(p_i.values())
    if not 0 <= p < 1:
        msg = f"the pT-hat slices hold {p:.3g} of σ_inel (must be < 1): is the lowest edge too low?"
        raise DataError(msg)

    def below(q: float) -> float:  # share of crossings whose hardest interaction is below an edge
        return (1 - q) * math.exp(-mu * q)

    name0, n_soft = unbiased
    if n_soft <= 0:
        msg = f"the unbiased sample '{name0}' has no crossing below the veto at {veto_pthat_gev:g} GeV"
        raise DataError(msg)
    weights = {name0: below(p) / n_soft}
    q = p  # fraction of interactions at or above the current slice's lower edge (slices in pT-hat order)
    shares = {}
    for name, (_, n) in slices.items():
        q_next = max(q - p_i[name], 0.0)
        shares[name] = below(q_next) - below(q)
        weights[name] = shares[name] / n
        q = q_next
    for name, (sigma, n) in (electroweak or {}).items():
        weights[name] = (1 + mu) * sigma / sigma_inel_pb / n
    summary = {
        "sigma_inel_pb": sigma_inel_pb,
        "pileup_mean": mu,
        "veto_pthat_gev": veto_pthat_gev,
        "hard_interaction_fraction": p,
        "soft_crossing_share": below(p),
        "slice_crossing_shares": shares,
        "components": {
            name0: "unbiased (vetoed at the lowest slice edge)",
            **{name: "QCD pT-hat slice" for name in slices},
            **{name: "electroweak (test split)" for name in electroweak or {}},
        },
    }
    return MixtureWeights(weights, veto_pthat_gev, summary)


def event_weights(info: SampleInfo, n_scored: int, n_generated: float, pthat_gev: np.ndarray | None) -> np.ndarray:
    """Weight of each scored event of ``info`` in the weighted zero bias.

    ``n_generated`` is the number of generated events the ``n_scored`` events stand for (the test
    split's share for a background sample); the unbiased sample's events at or above its veto get 0.
    """
    if info.zb_weight is None:
        msg = f"sample '{info.name}' is not part of the weighted zero bias (no zb_weight in the manifest)"
        raise DataError(msg)
    w = np.full(n_scored, info.zb_weight * n_generated / n_scored if n_scored else 0.0)
    if info.zb_pthat_veto_gev is not None:
        if pthat_gev is None or len(pthat_gev) != n_scored:
            msg = (
                f"sample '{info.name}' is vetoed at pT-hat {info.zb_pthat_veto_gev:g} GeV in the weighted "
                "zero bias, but its file has no pthat_gev per event; regenerate the data ('make data')"
            )
            raise DataError(msg)
        w[np.asarray(pthat_gev) >= info.zb_pthat_veto_gev] = 0.0
    return w


@dataclass
class ZeroBiasMixture:
    """Zero-bias scores with their weights (equal weights for an unbiased sample).

    Attributes:
        scores: float (n,) scores of every event with a non-zero weight.
        weights: float (n,) weights, normalised to sum 1 (share of crossings).
        weighted: whether the weights differ (a mixture), or the sample is unbiased.
        components: sample → {"events": scored events kept, "share": weight share, "n_effective"}.
    """

    scores: np.ndarray
    weights: np.ndarray
    weighted: bool
    components: dict[str, dict[str, float]] = field(default_factory=dict)

    @classmethod
    def build(cls, parts: dict[str, tuple[np.ndarray, np.ndarray]]) -> ZeroBiasMixture:
        """From sample → (scores, raw weights); events with weight 0 are dropped."""
        if not parts:
            msg = "no zero-bias sample: rates cannot be calibrated"
            raise DataError(msg)
        scores, weights, components = [], [], {}
        for name, (s, w) in parts.items():
            s, w = np.asarray(s, float), np.asarray(w, float)
            if s.shape != w.shape:
                msg = f"zero-bias sample '{name}': {len(s)} scores but {len(w)} weights"
                raise DataError(msg)
            if not np.isfinite(w).all() or (w < 0).any():
                msg = f"zero-bias sample '{name}': weights must be finite and >= 0"
                raise DataError(msg)
            keep = w > 0
            scores.append(s[keep])
            weights.append(w[keep])
            components[name] = {"events": int(keep.sum()), "share": float(w.sum()), "n_effective": effective_count(w)}
        s_all, w_all = np.concatenate(scores), np.concatenate(weights)
        total = float(w_all.sum())
        if len(s_all) == 0 or total <= 0:
            msg = "the zero-bias sample is empty: no rate can be calibrated (regenerate the data with zero bias)"
            raise DataError(msg)
        for c in components.values():
            c["share"] /= total
        weighted = bool(w_all.max() > w_all.min() * (1 + 1e-12))
        return cls(s_all, w_all / total, weighted, components)

    @property
    def n_events(self) -> int:
        return len(self.scores)

    @property
    def n_effective(self) -> float:
        return effective_count(self.weights)
