"""The model-kind tables: replicates, a DAE's noise levels, and the kinds partitioned."""

from __future__ import annotations

from types import SimpleNamespace as NS

from reprdyn.spec.kinds import ANALYTIC, PRETRAINED, TRAINABLE, dae_sigmas, replicates


def test_the_kinds_are_partitioned():
    kinds = [*TRAINABLE, *PRETRAINED, *ANALYTIC]
    assert len(kinds) == len(set(kinds))


def test_replicates_count_only_for_trained_models():
    train = NS(replicates=3)
    assert replicates(NS(kind="diffusion", train=train)) == 3
    assert replicates(NS(kind="dae", train=train)) == 3
    assert replicates(NS(kind="sd", train=train)) == 1


def test_dae_sigmas_per_checkpoint():
    grid = [0.1, 1.0]
    assert dae_sigmas(NS(kind="diffusion"), grid) is None
    assert dae_sigmas(NS(kind="dae", train_sigma="grid"), grid) == [[0.1], [1.0]]
    assert dae_sigmas(NS(kind="dae", train_sigma=0.5), grid) == [[0.5]]
    assert dae_sigmas(NS(kind="dae", train_sigma=[0.2, 2.0]), grid) == [[0.2, 2.0]]
