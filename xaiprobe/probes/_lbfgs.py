"""Batched L-BFGS: many independent smooth convex problems minimized in one loop."""
from __future__ import annotations

import numpy as np
import torch


def batched_lbfgs(fg, theta: torch.Tensor, active, tol: float, max_iter: int, history: int = 10,
                  max_backtrack: int = 20, ftol: float | None = None) -> np.ndarray:
    """Minimize A independent smooth convex objectives at once with L-BFGS, in place.

    Each column of ``theta`` (P, A) is one problem with its own curvature history, step size
    and stopping test (largest absolute gradient entry <= ``tol``, like scikit-learn's lbfgs);
    every evaluation of ``fg(theta[:, cols], cols) -> (loss (k,), grad (P, k))`` serves all
    unfinished problems at once. Steps use Armijo backtracking (halving); a problem whose line
    search cannot decrease the loss any more (machine precision) stops there.

    Returns
    -------
    ndarray of int (A,)
        Iterations per problem.
    """
    P, A = theta.shape
    dev, dt = theta.device, theta.dtype
    if ftol is None:
        ftol = 64 * torch.finfo(dt).eps if dt == torch.float64 else 1e-9
    active = active.to(dev, torch.bool) if isinstance(active, torch.Tensor) else \
        torch.as_tensor(np.asarray(active, dtype=bool), device=dev)
    n_iter = np.zeros(A, dtype=np.int64)
    if not bool(active.any()) or max_iter <= 0:
        return n_iter
    S = torch.zeros(history, P, A, dtype=dt, device=dev)
    Yh = torch.zeros_like(S)
    rho = torch.zeros(history, A, dtype=dt, device=dev)
    f = torch.zeros(A, dtype=torch.float64, device=dev)
    g = torch.zeros(P, A, dtype=dt, device=dev)
    cols = torch.nonzero(active).flatten()
    f[cols], g[:, cols] = fg(theta[:, cols], cols)
    gamma = torch.ones(A, dtype=dt, device=dev)
    gamma[cols] = 1.0 / g[:, cols].norm(dim=0).clamp(min=1.0)
    done = ~active | (g.abs().amax(0) <= tol)
    count = 0
    for _ in range(max_iter):
        cols = torch.nonzero(~done).flatten()
        if cols.numel() == 0:
            break
        gc = g[:, cols]
        # two-loop recursion, newest pair first (empty slots have rho = 0: no-ops); the history
        # of the unfinished problems is gathered once per iteration (not once per product)
        every = cols.numel() == A
        Sc, Yc, rc = (S, Yh, rho) if every else (S[:, :, cols], Yh[:, :, cols], rho[:, cols])
        q = gc.clone()
        order = [(count - 1 - j) % history for j in range(min(count, history))]
        alphas = []
        for j in order:
            a = rc[j] * (Sc[j] * q).sum(0)
            q -= a * Yc[j]
            alphas.append(a)
        r = gamma[cols] * q
        for j, a in zip(reversed(order), reversed(alphas)):
            beta = rc[j] * (Yc[j] * r).sum(0)
            r += Sc[j] * (a - beta)
        d = -r
        gd = (gc * d).sum(0)
        bad = gd >= 0  # not a descent direction: restart that problem from steepest descent
        if bool(bad.any()):
            d[:, bad] = -gc[:, bad] * gamma[cols][bad]
            gd = (gc * d).sum(0)
            rho[:, cols[bad]] = 0
        # Armijo backtracking, only on the problems still searching
        t = torch.ones(cols.numel(), dtype=dt, device=dev)
        f_new = torch.empty(cols.numel(), dtype=torch.float64, device=dev)
        g_new = torch.empty_like(gc)
        pending = torch.ones(cols.numel(), dtype=torch.bool, device=dev)
        for _ls in range(max_backtrack):
            idx = torch.nonzero(pending).flatten()
            ft, gt = fg(theta[:, cols[idx]] + t[idx] * d[:, idx], cols[idx])
            f0 = f[cols[idx]]
            ok = (ft <= f0 + 1e-4 * (t[idx] * gd[idx]).double()) & (ft < f0)
            f_new[idx[ok]], g_new[:, idx[ok]] = ft[ok], gt[:, ok]
            pending[idx[ok]] = False
            t[idx[~ok]] *= 0.5
            if not bool(pending.any()):
                break
        moved = ~pending
        stuck = cols[pending]
        done[stuck] = True  # no decrease possible at this precision: as converged as it gets
        if not bool(moved.any()):
            break
        mc, mi = cols[moved], torch.nonzero(moved).flatten()
        s = t[mi] * d[:, mi]
        y = g_new[:, mi] - gc[:, mi]
        sy, yy = (s * y).sum(0), (y * y).sum(0)
        valid = sy > 1e-10 * yy.clamp(min=1e-30)
        slot = count % history
        S[slot][:, mc], Yh[slot][:, mc] = s, y
        rho[slot, cols] = 0
        rho[slot, mc] = torch.where(valid, 1.0 / sy.clamp(min=1e-30), torch.zeros_like(sy))
        gamma[mc] = torch.where(valid, sy / yy.clamp(min=1e-30), gamma[mc])
        count += 1
        theta[:, mc] += s
        f_old = f[cols].clone()
        f[mc], g[:, mc] = f_new[mi], g_new[:, mi]
        n_iter[mc.cpu().numpy()] += 1
        small = (f_old[mi] - f[mc]) <= ftol * torch.maximum(f_old[mi].abs(), f[mc].abs()).clamp(min=1.0)
        done[mc] |= (g[:, mc].abs().amax(0) <= tol) | small
    return n_iter
