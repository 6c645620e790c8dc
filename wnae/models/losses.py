"""Losses: reconstruction energy, NAE, Wasserstein (EMD via POT), KL, InfoNCE.

References:
    [1] S. Yoon, Y.-K. Noh, F. C. Park, "Autoencoding under normalization constraints",
        ICML 2021, arXiv:2105.05735 (NAE).
    [2] CMS Collaboration, "Wasserstein normalized autoencoder for anomaly detection",
        arXiv:2510.02168 (WNAE).
    [3] R. Flamary et al., "POT: Python Optimal Transport", JMLR 22 (2021) 1.
    [4] A. van den Oord, Y. Li, O. Vinyals, "Representation learning with contrastive predictive
        coding", arXiv:1807.03748 (InfoNCE); T. Chen et al., SimCLR, arXiv:2002.05709 (NT-Xent).
    [5] A. Bardes, J. Ponce, Y. LeCun, "VICReg: variance-invariance-covariance regularization for
        self-supervised learning", ICLR 2022, arXiv:2105.04906.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "contrastive_classification_loss",
    "emd_loss",
    "info_nce_loss",
    "kl_divergence",
    "nae_loss",
    "reconstruction_energy",
    "sliced_emd_loss",
    "vicreg_loss",
]

_NUMPY_BEHAVIOUR = False


def _enable_numpy_behaviour() -> None:
    """POT's TensorFlow backend needs TF's numpy behaviour; enabled once, on first use."""
    global _NUMPY_BEHAVIOUR
    if not _NUMPY_BEHAVIOUR:
        from tensorflow.python.ops.numpy_ops import np_config

        np_config.enable_numpy_behavior()
        _NUMPY_BEHAVIOUR = True


def reconstruction_energy(x: Any, reconstruction: Any) -> Any:
    r"""E(x) = mean over features of (x − x̂)², shape (n,).

    .. math:: E(x) = \frac{1}{d} \sum_i (x_i - \hat x_i)^2
    """
    import tensorflow as tf

    return tf.reduce_mean(tf.square(x - reconstruction), axis=-1)


def nae_loss(e_pos: Any, e_neg: Any, gamma: float) -> Any:
    r"""NAE objective [1]: :math:`\langle E_+\rangle - \langle E_-\rangle + \gamma \langle E_-^2\rangle`."""
    import tensorflow as tf

    return tf.reduce_mean(e_pos) - tf.reduce_mean(e_neg) + gamma * tf.reduce_mean(tf.square(e_neg))


def _emd_plan(cost: np.ndarray) -> np.ndarray:
    from wnae.models.transport import network_simplex_plan

    return network_simplex_plan(cost).astype(cost.dtype)


def emd_loss(x_pos: Any, x_neg: Any) -> Any:
    r"""Exact squared-Euclidean Wasserstein distance between two point clouds (uniform weights).

    .. math:: W(x_+, x_-) = \min_{\pi \in \Pi(a, b)} \sum_{ij} \pi_{ij} \lVert x_{+,i} - x_{-,j} \rVert^2

    The optimal plan π is found by POT's network simplex (``ot.emd``, via ``tf.numpy_function``)
    and held constant; the loss Σ π ⊙ C is differentiable in both point clouds through the cost
    C, which by the envelope theorem is the exact gradient of W [3].

    Args:
        x_pos: float32 (n, d) positive samples (data).
        x_neg: float32 (m, d) negative samples.

    Returns:
        Scalar tensor.
    """
    import tensorflow as tf

    cost = tf.reduce_sum(tf.square(x_pos[:, None, :] - x_neg[None, :, :]), axis=-1)
    plan = tf.numpy_function(_emd_plan, [tf.stop_gradient(cost)], cost.dtype)
    plan = tf.ensure_shape(plan, cost.shape)
    return tf.reduce_sum(plan * cost)


def sliced_emd_loss(x_pos: Any, x_neg: Any, n_projections: int, seed: int | None = None, generator: Any = None) -> Any:
    r"""Sliced squared Wasserstein distance (POT, p = 2) with projections drawn by ``tf.random``.

    .. math:: SW_2^2(x_+, x_-) = \mathbb{E}_{\theta \sim U(S^{d-1})}\, W_2^2(\theta^\top x_+, \theta^\top x_-)
              \le \frac{1}{d} W_2^2(x_+, x_-)

    estimated with ``n_projections`` random directions; each 1-D problem is solved exactly by
    sorting, so the cost is O(P·n log n) instead of the network simplex of :func:`emd_loss`.
    POT's TensorFlow backend differentiates it (TF numpy behaviour is enabled on first use).

    Args:
        x_pos: float32 (n, d) positive samples (data).
        x_neg: float32 (m, d) negative samples.
        n_projections: number P of random directions.
        seed: op seed of the directions (``None``: from TF's global seed), without ``generator``.
        generator: a :class:`tf.random.Generator` for the directions (checkpointable: resumable).

    Returns:
        Scalar tensor, the squared sliced distance (``ot.sliced_wasserstein_distance`` squared).
    """
    import ot
    import tensorflow as tf

    _enable_numpy_behaviour()
    x_pos, x_neg = tf.convert_to_tensor(x_pos), tf.convert_to_tensor(x_neg)
    d = x_pos.shape[-1]
    if generator is not None:
        proj = generator.normal((d, n_projections), dtype=x_pos.dtype)
    else:
        proj = tf.random.normal((d, n_projections), seed=seed, dtype=x_pos.dtype)
    proj = proj / tf.norm(proj, axis=0, keepdims=True)
    return tf.square(ot.sliced_wasserstein_distance(x_pos, x_neg, projections=proj, p=2))


def kl_divergence(mu: Any, log_var: Any) -> Any:
    r"""KL(𝒩(μ, σ²) ‖ 𝒩(0, 1)) per event: :math:`-\tfrac12 \sum (1 + \log\sigma^2 - \mu^2 - \sigma^2)`."""
    import tensorflow as tf

    return -0.5 * tf.reduce_sum(1.0 + log_var - tf.square(mu) - tf.exp(log_var), axis=-1)


def info_nce_loss(z1: Any, z2: Any, temperature: float) -> Any:
    r"""NT-Xent / InfoNCE between two views [4]: each event's other view is its positive, the other
    2n − 2 views of the batch are negatives.

    .. math:: \ell_i = -\log \frac{\exp(s_{i,i'}/\tau)}{\sum_{k \ne i} \exp(s_{i,k}/\tau)},
              \quad s = \cos(z, z')
    """
    import tensorflow as tf

    z = tf.math.l2_normalize(tf.concat([z1, z2], axis=0), axis=-1)
    n = tf.shape(z1)[0]
    sim = tf.matmul(z, z, transpose_b=True) / temperature
    sim = sim - 1e9 * tf.eye(2 * n, dtype=sim.dtype)
    targets = tf.concat([tf.range(n, 2 * n), tf.range(0, n)], axis=0)
    return tf.reduce_mean(tf.keras.losses.sparse_categorical_crossentropy(targets, sim, from_logits=True))


def contrastive_classification_loss(
    z1: Any,
    z2: Any,
    labels: Any,
    projection: Any,
    classifier: Any,
    *,
    beta: float,
    temperature: float,
) -> tuple[Any, Any, Any, Any]:
    r"""The MLP encoders' objective on two views' encodings, ``(loss, InfoNCE, CE, accuracy)``.

    .. math:: L = \beta\, L_\mathrm{InfoNCE}(g(z^{(1)}), g(z^{(2)})) + L_\mathrm{CE}(y, h(z^{(1)}) \cup h(z^{(2)}))

    with ``projection`` g, ``classifier`` h (logits over the SM processes) and ``labels`` y (int32
    (n,)); the accuracy is that of h on both views.
    """
    import tensorflow as tf

    nce = info_nce_loss(projection(z1), projection(z2), temperature)
    both = tf.cast(tf.concat([labels, labels], axis=0), tf.int32)
    logits = classifier(tf.concat([z1, z2], axis=0))
    xent = tf.reduce_mean(tf.keras.losses.sparse_categorical_crossentropy(both, logits, from_logits=True))
    hits = tf.equal(tf.argmax(logits, -1, output_type=tf.int32), both)
    return beta * nce + xent, nce, xent, tf.reduce_mean(tf.cast(hits, tf.float32))


def vicreg_loss(
    z1: Any,
    z2: Any,
    *,
    invariance: float = 25.0,
    variance: float = 25.0,
    covariance: float = 1.0,
    target_std: float = 1.0,
    eps: float = 1e-4,
) -> tuple[Any, Any, Any, Any]:
    r"""VICReg [5] between the embeddings of two views, ``(loss, invariance term, variance term, covariance term)``.

    .. math:: L = \lambda\, \frac{1}{nd}\sum \lVert z_1 - z_2 \rVert^2
              + \mu \sum_{v=1,2} \frac{1}{d} \sum_j \max(0, \gamma - \sqrt{\mathrm{Var}(z_{v,j}) + \epsilon})
              + \nu \sum_{v=1,2} \frac{1}{d} \sum_{j \ne k} C(z_v)_{jk}^2

    with :math:`C` the batch covariance. The variance hinge prevents the collapse to a constant
    embedding; the covariance term decorrelates its coordinates.
    """
    import tensorflow as tf

    inv = tf.reduce_mean(tf.square(z1 - z2))
    var_terms, cov_terms = [], []
    n = tf.cast(tf.shape(z1)[0], z1.dtype)
    d = tf.cast(tf.shape(z1)[1], z1.dtype)
    for z in (z1, z2):
        centred = z - tf.reduce_mean(z, axis=0, keepdims=True)
        std = tf.sqrt(tf.reduce_mean(tf.square(centred), axis=0) * n / (n - 1) + eps)
        var_terms.append(tf.reduce_mean(tf.nn.relu(target_std - std)))
        cov = tf.matmul(centred, centred, transpose_a=True) / (n - 1)
        off = cov - tf.linalg.diag(tf.linalg.diag_part(cov))
        cov_terms.append(tf.reduce_sum(tf.square(off)) / d)
    var_loss, cov_loss = tf.add_n(var_terms), tf.add_n(cov_terms)
    return invariance * inv + variance * var_loss + covariance * cov_loss, inv, var_loss, cov_loss
