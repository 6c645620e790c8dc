"""HLT encoders (float Keras: the HLT runs on CPUs): Linformer, DeepSets and MLPs → latent z.

Every encoder maps an event to z ∈ R^latent_dim. The PF encoders take the candidate inputs of
:func:`wnae.hlt.inputs.candidate_inputs` (n, N, 11) and read the padding mask from their class
one-hot, so that a padded slot changes nothing, whatever it holds:

* **Linformer** (S. Wang et al., "Linformer: self-attention with linear complexity",
  arXiv:2006.04768): a pre-LayerNorm transformer whose keys and values are projected along the
  sequence, :math:`K' = E\\,K,\\ V' = F\\,V` with learned :math:`E, F \\in R^{k \\times N}` (shared by
  the heads of a layer, "headwise sharing"), so attention costs O(N·k) instead of O(N²). Padded
  candidates' keys and values are zeroed before the projection; position-wise layers never mix
  slots; the pooling is masked.
* **DeepSets** (M. Zaheer et al., arXiv:1703.06114): a per-candidate MLP φ, masked pooling, an MLP
  ρ on the pool — permutation invariant, the form that fits in hardware.
* **PF MLP**: an MLP on the flattened leading candidates.
* **L1-object MLP**: the MLP encoder's architecture on the 57 normalised L1-object features.

The PF encoders pool with the masked mean and the masked sum / N (which keeps the multiplicity).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from wnae.data.schema import N_FEATURES
from wnae.hlt.config import EncoderConfig
from wnae.hlt.inputs import N_INPUTS

#: Also ``LinformerSelfAttention``, the Keras layer, defined when first asked for (TensorFlow is heavy).
__all__ = ["build_encoder", "input_shape"]


def input_shape(cfg: EncoderConfig) -> tuple[int, ...]:
    """Shape of one event's encoder input."""
    return (cfg.max_candidates, N_INPUTS) if cfg.reads_pf else (N_FEATURES,)


def _keras() -> Any:
    from tensorflow import keras

    return keras


def _linformer_layer_class() -> Any:
    import tensorflow as tf
    from tensorflow import keras  # as _keras(), imported here so that the class's base is a static name

    class LinformerSelfAttention(keras.layers.Layer):
        """Multi-head self-attention with keys and values projected along the sequence to length k.

        Call with ``(x, mask)``: x float (n, N, d), mask float (n, N, 1) (1 = candidate, 0 = padding).
        """

        def __init__(self, n_heads: int, k: int, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.n_heads, self.k = n_heads, k

        def build(self, input_shape: Any) -> None:
            x_shape = input_shape[0]
            n_seq, d = int(x_shape[1]), int(x_shape[2])
            self.d, self.n_seq = d, n_seq
            dense = {"kernel_initializer": "glorot_uniform"}
            self.q = keras.layers.Dense(d, name="query", **dense)
            self.kv = keras.layers.Dense(2 * d, name="key_value", **dense)
            self.out = keras.layers.Dense(d, name="output", **dense)
            for layer, dim in ((self.q, d), (self.kv, d), (self.out, d)):
                layer.build((None, n_seq, dim))

            def init() -> Any:  # a fresh initializer each: E and F must differ
                return keras.initializers.RandomNormal(stddev=1.0 / self.k**0.5)

            self.e = self.add_weight(name="key_projection", shape=(self.k, n_seq), initializer=init())
            self.f = self.add_weight(name="value_projection", shape=(self.k, n_seq), initializer=init())
            super().build(input_shape)

        def _heads(self, t: Any) -> Any:  # (n, L, d) → (n, h, L, d/h)
            n, length = tf.shape(t)[0], tf.shape(t)[1]
            t = tf.reshape(t, (n, length, self.n_heads, self.d // self.n_heads))
            return tf.transpose(t, (0, 2, 1, 3))

        def call(self, inputs: tuple[Any, Any]) -> Any:
            x, mask = inputs
            q = self._heads(self.q(x))
            key, value = tf.split(self.kv(x) * mask, 2, axis=-1)  # padded slots hold no key, no value
            key = self._heads(tf.einsum("kn,bnd->bkd", self.e, key))
            value = self._heads(tf.einsum("kn,bnd->bkd", self.f, value))
            scale = 1.0 / float(self.d // self.n_heads) ** 0.5
            attention = tf.nn.softmax(tf.matmul(q, key, transpose_b=True) * scale, axis=-1)  # (n, h, N, k)
            heads = tf.transpose(tf.matmul(attention, value), (0, 2, 1, 3))
            merged = tf.reshape(heads, (tf.shape(x)[0], self.n_seq, self.d))
            return self.out(merged)

        def get_config(self) -> dict[str, Any]:
            return {**super().get_config(), "n_heads": self.n_heads, "k": self.k}

    return LinformerSelfAttention


_CLASSES: dict[str, Any] = {}


def __getattr__(name: str) -> Any:  # the Keras layer class, defined when TensorFlow is imported
    if name == "LinformerSelfAttention":
        if name not in _CLASSES:
            _CLASSES[name] = _linformer_layer_class()
        return _CLASSES[name]
    raise AttributeError(name)


def _mask_and_pool() -> tuple[Callable[[Any], Any], Callable[[Any, Any], Any]]:
    import tensorflow as tf

    keras = _keras()

    def mask_of(inputs: Any) -> Any:
        return keras.layers.Lambda(
            lambda t: tf.cast(tf.reduce_sum(t[..., 6:], axis=-1, keepdims=True) > 0, t.dtype), name="mask"
        )(inputs)

    def pool(x: Any, mask: Any) -> Any:
        def masked(args: Any) -> Any:
            t, m = args
            total = tf.reduce_sum(t * m, axis=1)
            count = tf.reduce_sum(m, axis=1)
            return tf.concat([total / tf.maximum(count, 1.0), total / float(t.shape[1])], axis=-1)

        return keras.layers.Lambda(masked, name="masked_pool")([x, mask])

    return mask_of, pool


def _linformer(cfg: EncoderConfig, name: str) -> Any:
    keras = _keras()
    attention_cls = __getattr__("LinformerSelfAttention")
    mask_of, pool = _mask_and_pool()
    inputs = keras.Input(shape=input_shape(cfg), name="candidates")
    mask = mask_of(inputs)
    x = keras.layers.Dense(cfg.embed_dim, name="embed")(inputs)
    x = keras.layers.Multiply(name="embed_masked")([x, mask])
    for i in range(cfg.n_layers):
        h = keras.layers.LayerNormalization(epsilon=1e-5, name=f"block{i}_norm1")(x)
        h = attention_cls(cfg.n_heads, cfg.linformer_k, name=f"block{i}_attention")([h, mask])
        x = keras.layers.Add(name=f"block{i}_add1")([x, h])
        h = keras.layers.LayerNormalization(epsilon=1e-5, name=f"block{i}_norm2")(x)
        h = keras.layers.Dense(cfg.ffn_dim, activation="gelu", name=f"block{i}_ffn1")(h)
        h = keras.layers.Dense(cfg.embed_dim, name=f"block{i}_ffn2")(h)
        x = keras.layers.Add(name=f"block{i}_add2")([x, h])
        x = keras.layers.Multiply(name=f"block{i}_masked")([x, mask])
    x = keras.layers.LayerNormalization(epsilon=1e-5, name="final_norm")(x)
    z = keras.layers.Dense(cfg.latent_dim, name="latent")(pool(x, mask))
    return keras.Model(inputs, z, name=name)


def _dense_chain(x: Any, widths: Sequence[int], prefix: str) -> Any:
    keras = _keras()
    for i, w in enumerate(widths):
        x = keras.layers.Dense(w, activation="relu", name=f"{prefix}{i}")(x)
    return x


def _deepsets(cfg: EncoderConfig, name: str) -> Any:
    keras = _keras()
    mask_of, pool = _mask_and_pool()
    inputs = keras.Input(shape=input_shape(cfg), name="candidates")
    mask = mask_of(inputs)
    x = _dense_chain(inputs, cfg.widths, "phi")
    x = _dense_chain(pool(x, mask), cfg.pool_widths, "rho")
    z = keras.layers.Dense(cfg.latent_dim, name="latent")(x)
    return keras.Model(inputs, z, name=name)


def _pf_mlp(cfg: EncoderConfig, name: str) -> Any:
    keras = _keras()
    mask_of, _ = _mask_and_pool()
    inputs = keras.Input(shape=input_shape(cfg), name="candidates")
    x = keras.layers.Multiply(name="masked")([inputs, mask_of(inputs)])
    x = keras.layers.Cropping1D((0, cfg.max_candidates - cfg.mlp_candidates), name="leading")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    z = keras.layers.Dense(cfg.latent_dim, name="latent")(_dense_chain(x, cfg.widths, "dense"))
    return keras.Model(inputs, z, name=name)


def _l1_mlp(cfg: EncoderConfig, name: str) -> Any:
    keras = _keras()
    inputs = keras.Input(shape=input_shape(cfg), name="l1_objects")
    z = keras.layers.Dense(cfg.latent_dim, name="latent")(_dense_chain(inputs, cfg.widths, "dense"))
    return keras.Model(inputs, z, name=name)


_BUILDERS = {"linformer": _linformer, "deepsets": _deepsets, "pf_mlp": _pf_mlp, "l1_mlp": _l1_mlp}


def build_encoder(cfg: EncoderConfig, name: str = "encoder") -> Any:  # a Keras model
    """The Keras encoder of ``cfg.kind``: input :func:`input_shape`, output z (n, latent_dim)."""
    return _BUILDERS[cfg.kind](cfg, name)
