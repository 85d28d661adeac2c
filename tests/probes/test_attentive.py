"""The attentive probe: cross-attention pooling over tokens, against the formula written out one
sample and head at a time."""

from __future__ import annotations

import numpy as np
import torch

from reprdyn.probes.attentive import AttentiveProbe


def _fitted(S=2, n=120, L=5, C=6, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    X = rng.normal(size=(S, n, L, C))
    X[:, np.arange(n), y % L, y % C] += 3.0  # the class shows in one token
    probe = AttentiveProbe(3, heads=2, head_dim=4, epochs=15, batch_size=32, lr=0.01)
    m = n - 100  # the last 100 samples are held out
    return probe.fit(X[:, :m], np.stack([y[:m], (y[:m] + 1) % 3])), X, y


def test_attention_is_a_softmax_over_tokens_of_query_key_scores():
    probe, X, _ = _fitted()
    p = probe.params_
    Z = probe.transform_input(X[:, -3:])  # (S, B, L, C)
    pooled, att = probe.attention(p, Z)
    for s in range(2):
        for t in range(2):
            for b in range(3):
                for h in range(2):
                    k = Z[s, b] @ p["Wk"][s, t][:, 4 * h : 4 * h + 4]  # (L, dh)
                    v = Z[s, b] @ p["Wv"][s, t][:, 4 * h : 4 * h + 4]
                    w = torch.softmax(k @ p["q"][s, t, h] / 2.0, 0)  # sqrt(head_dim) = 2
                    torch.testing.assert_close(att[s, t, b, h], w)
                    torch.testing.assert_close(pooled[s, t, b, 4 * h : 4 * h + 4], w @ v)


def test_it_learns_which_token_holds_the_class():
    probe, X, y = _fitted(n=700)
    acc = (probe.predict(X[:, -100:])[:, 0].numpy() == y[-100:]).mean(-1)  # (S,)
    assert (acc > 0.8).all()


def test_pooled_features_are_one_token_each():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(1, 50, 4))
    probe = AttentiveProbe(2, heads=1, head_dim=3, epochs=1, batch_size=25)
    probe.fit(X, rng.integers(0, 2, (1, 50)))
    _, att = probe.attention(probe.params_, probe.transform_input(X))
    torch.testing.assert_close(att, torch.ones_like(att))  # one token: all the weight on it


def test_a_pair_over_many_tokens_does_not_depend_on_its_stack_neighbours():
    """The stack contract of tests/probes/test_base.py, with 16 tokens a sample: every product
    has one pair's own shape, so a pair's logits are those it has alone, bit for bit (einsums
    over the stack moved them by a float32 ulp here)."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(4, 200, 16, 4))
    Y = rng.integers(0, 3, size=(3, 200))
    seeds = [[10 * s + t for t in range(3)] for s in range(4)]
    kw = dict(heads=4, head_dim=16, epochs=2, batch_size=64, lr=0.01)
    whole = AttentiveProbe(3, **kw).fit(X[:, :150], Y[:, :150], seeds=seeds)
    alone = AttentiveProbe(3, **kw).fit(X[1:2, :150], Y[2:, :150], seeds=[[seeds[1][2]]])
    torch.testing.assert_close(
        alone.decision_function(X[1:2, 150:])[0, 0],
        whole.decision_function(X[:, 150:])[1, 2],
        rtol=0,
        atol=0,
    )
