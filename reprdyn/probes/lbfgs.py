"""L-BFGS over many independent problems at once: each problem keeps its own history, step and
stopping test.

`fun(x)` maps parameters x (P, N) of P problems to their losses (P,) and gradients (P, N), each
problem's from its own slice alone. One iteration takes the two-loop L-BFGS direction of every
unfinished problem and a backtracking (Armijo) line search per problem, so a problem's trajectory is
the one it would follow if it were solved alone: adding problems to a batch never changes the
others' answers, unlike one L-BFGS run over the sum of the objectives.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

Fun = Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


def _direction(
    g: torch.Tensor, S: torch.Tensor, Y: torch.Tensor, rho: torch.Tensor
) -> torch.Tensor:
    """-H g by the two-loop recursion; history slots with rho = 0 are empty and change nothing."""
    q = g.clone()
    m = S.shape[1]
    alpha = torch.zeros_like(rho)
    for i in reversed(range(m)):  # newest last
        alpha[:, i] = rho[:, i] * (S[:, i] * q).sum(-1)
        q -= alpha[:, i, None] * Y[:, i]
    s, y = S[:, -1], Y[:, -1]
    yy = (y * y).sum(-1)
    # H0 = gamma I: s.y / y.y from the newest pair; the first step is at most unit length
    gamma = torch.where(
        rho[:, -1] > 0,
        (s * y).sum(-1) / yy.clamp_min(torch.finfo(g.dtype).tiny),
        1 / g.norm(dim=-1).clamp_min(1.0),
    )
    r = gamma[:, None] * q
    for i in range(m):
        beta = rho[:, i] * (Y[:, i] * r).sum(-1)
        r += S[:, i] * (alpha[:, i] - beta)[:, None]
    return -r


def lbfgs(
    fun: Fun,
    x: torch.Tensor,
    max_iter: int = 500,
    gtol: float = 1e-4,
    history: int = 10,
    c1: float = 1e-4,
    max_halvings: int = 30,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Minimise P independent smooth objectives from x (P, N); return (x, iterations per problem).

    A problem stops when its largest gradient entry is at most `gtol` (scipy's
    test), when its loss stops decreasing by more than a few float epsilons, or
    when no step length gives an Armijo decrease.
    """
    P, N = x.shape  # (problems, parameters)
    eps = torch.finfo(x.dtype).eps
    f, g = fun(x)
    S, Y = x.new_zeros(P, history, N), x.new_zeros(P, history, N)
    rho = x.new_zeros(P, history)
    active = g.abs().amax(-1) > gtol
    iters = torch.zeros(P, dtype=torch.long, device=x.device)
    for _ in range(max_iter):
        if not bool(active.any()):
            break
        d = _direction(g, S, Y, rho)
        slope = (g * d).sum(-1)
        bad = slope >= 0  # not a descent direction (a poor history): restart from steepest descent
        if bool(bad.any()):
            d = torch.where(bad[:, None], -g / g.norm(dim=-1, keepdim=True).clamp_min(1.0), d)
            slope = (g * d).sum(-1)
        x_new, f_new, g_new, searching = _backtrack(
            fun, x, f, g, d, slope, active, c1, max_halvings
        )
        moved = active & ~searching  # problems whose line search found a decrease
        S, Y, rho = _remember(S, Y, rho, x_new - x, g_new - g, moved, eps)
        stalled = (f - f_new) <= 10 * eps * torch.maximum(
            torch.maximum(f.abs(), f_new.abs()), torch.ones_like(f)
        )
        iters += active.long()
        x, f, g = x_new, f_new, g_new
        active = moved & ~stalled & (g.abs().amax(-1) > gtol)
    return x, iters


def _backtrack(fun: Fun, x, f, g, d, slope, active, c1: float, max_halvings: int):
    """Armijo backtracking from step 1, halving per problem until f decreases by c1 * t * slope:
    (x, f, g after the step, the problems still searching when the halvings ran out)."""
    t = torch.ones(x.shape[0], dtype=x.dtype, device=x.device)
    searching = active.clone()
    f_new, g_new, x_new = f.clone(), g.clone(), x.clone()
    for _ in range(max_halvings):
        x_try = torch.where(searching[:, None], x + t[:, None] * d, x_new)
        f_try, g_try = fun(x_try)
        ok = searching & (f_try <= f + c1 * t * slope)
        x_new = torch.where(ok[:, None], x_try, x_new)
        f_new, g_new = torch.where(ok, f_try, f_new), torch.where(ok[:, None], g_try, g_new)
        searching &= ~ok
        if not bool(searching.any()):
            break
        t = torch.where(searching, t / 2, t)
    return x_new, f_new, g_new, searching


def _remember(S, Y, rho, s, y, moved, eps: float):
    """Push the curvature pair (s, y) into each moved problem's history, when it is sound
    (s.y > eps |s| |y|); the oldest pair drops out."""
    sy = (s * y).sum(-1)
    upd = moved & (sy > eps * s.norm(dim=-1) * y.norm(dim=-1))
    S = torch.where(upd[:, None, None], torch.cat([S[:, 1:], s[:, None]], 1), S)
    Y = torch.where(upd[:, None, None], torch.cat([Y[:, 1:], y[:, None]], 1), Y)
    rho = torch.where(upd[:, None], torch.cat([rho[:, 1:], 1 / sy.clamp_min(eps)[:, None]], 1), rho)
    return S, Y, rho
