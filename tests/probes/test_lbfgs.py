"""The batched L-BFGS: each problem solved as if alone, against closed forms and scipy."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.optimize import minimize, rosen

from reprdyn.probes.lbfgs import lbfgs


def _quadratics(P: int, N: int, seed: int = 0):
    """P convex quadratics 1/2 x'A x - b'x with known minimisers A^-1 b."""
    g = torch.Generator().manual_seed(seed)
    M = torch.randn(P, N, N, generator=g, dtype=torch.float64)
    A = M @ M.transpose(1, 2) + N * torch.eye(N, dtype=torch.float64)  # (P, N, N) SPD
    b = torch.randn(P, N, generator=g, dtype=torch.float64)

    def fun(x):  # (P, N) -> (P,), (P, N)
        Ax = (A @ x[..., None])[..., 0]
        return 0.5 * (x * Ax).sum(-1) - (b * x).sum(-1), Ax - b

    return fun, torch.linalg.solve(A, b), A, b


def test_quadratics_reach_their_closed_form_minimisers():
    fun, x_star, _, _ = _quadratics(P=5, N=8)
    x, iters = lbfgs(fun, torch.zeros(5, 8, dtype=torch.float64), gtol=1e-10)
    torch.testing.assert_close(x, x_star, rtol=0, atol=1e-8)
    assert (iters > 0).all() and (iters < 100).all()


def test_a_problem_follows_the_same_path_alone_and_in_a_batch():
    fun, _, A, b = _quadratics(P=4, N=6, seed=1)
    x_all, it_all = lbfgs(fun, torch.zeros(4, 6, dtype=torch.float64), max_iter=7)

    def one(x):  # the third problem alone
        Ax = (A[2:3] @ x[..., None])[..., 0]
        return 0.5 * (x * Ax).sum(-1) - (b[2:3] * x).sum(-1), Ax - b[2:3]

    x_one, it_one = lbfgs(one, torch.zeros(1, 6, dtype=torch.float64), max_iter=7)
    torch.testing.assert_close(x_all[2:3], x_one, rtol=1e-12, atol=1e-12)
    assert it_all[2] == it_one[0]


def test_rosenbrock_agrees_with_scipy():
    def fun(x):  # Rosenbrock in N dims, per row
        a, b = x[:, :-1], x[:, 1:]
        f = (100 * (b - a**2) ** 2 + (1 - a) ** 2).sum(-1)
        g = torch.zeros_like(x)
        g[:, :-1] = -400 * a * (b - a**2) - 2 * (1 - a)
        g[:, 1:] += 200 * (b - a**2)
        return f, g

    starts = np.array([[-1.2, 1.0, 0.5], [0.0, 0.0, 0.0]])
    x, _ = lbfgs(fun, torch.tensor(starts), max_iter=2000, gtol=1e-9)
    for row, start in zip(x.numpy(), starts):
        ref = minimize(rosen, start, method="L-BFGS-B", options={"gtol": 1e-9}).x
        np.testing.assert_allclose(row, ref, atol=1e-4)
        np.testing.assert_allclose(row, np.ones(3), atol=1e-4)  # the known minimum


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_a_solved_problem_does_not_move(dtype):
    fun, x_star, _, _ = _quadratics(P=2, N=3)
    start = x_star.to(dtype)
    x, iters = lbfgs(lambda z: tuple(t.to(dtype) for t in fun(z.double())), start, gtol=1e-3)
    assert (iters == 0).all() and torch.equal(x, start)
