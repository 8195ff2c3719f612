"""Proposed library changes, measured beside the library in sections 7 and 8 (not used by it).

Section 7, `anchored_in_one_pass`: JacNet.forward with the exact solver and a fixed anchor
evaluates the antiderivative twice, P(x) on the batch and P(x0) on one row, so every
training step runs the gradient network (and its backward) twice; at batch 100 the second,
one-row pass costs about as much as the first. Evaluating P on [x0; x] in one call gives
the same ŷ = y0 + P(x) - P(x0).

Section 8, the n-D inverse:

`newton_fused` is `inverse.newton_nd` for a `monotone` JacNet with the exact solver and a
fixed anchor, changed in four places:

1. value and Jacobian from one pass of the gradient network (`value_and_jacobian`) at the
   full Newton step, which is nearly always taken, so the next iteration does not run the
   network again for J (the library runs it once for ŷ in the line search, then again for
   J); backtracking trials evaluate ŷ alone, one step length per pass;
2. the cascade's σ'(z) for tanh from the value already computed, 1 - tanh(z)², instead of
   1 / cosh(z)² (three more elementwise passes per layer in `gradnets.NONLINEARITIES`);
3. no network pass at the anchor: with the exact solver ŷ(x0) = y0, so r0 = y0 - y;
4. it returns each point's residual, so `solve` need not evaluate ŷ(x̂) once more.

Same damped-Newton iteration, Armijo test and stopping rule as `newton_nd` otherwise.
Returns None for models it does not cover (other structures, nonlinearities or anchors).
"""

from __future__ import annotations

import math
import types

import torch
from torch import Tensor

from jacnet_cli import FixedAnchor
from jacnet_cli.core.nets.gradnets import Cascade, Modular


def anchored_in_one_pass(model):
    """`model` (a JacNet, exact solver, fixed anchor) with forward evaluating P(x0) and P(x)
    in one network call; returns the model (changed in place)."""

    def forward(self, x: Tensor) -> Tensor:
        x0, y0 = self.anchor(x[:1])  # (1, d_x), (1, d_y)
        p = self.primitive(torch.cat([x0, x]))  # (1 + N, d_y): one network pass
        return y0 + p[1:] - p[:1]  # (N, d_y)

    model.forward = types.MethodType(forward, model)
    return model


def applies(model) -> bool:
    net = getattr(model, "net", None)
    return (getattr(model.structure, "name", "") == "monotone"
            and bool(getattr(model.solver, "exact", False))
            and isinstance(model.anchor, FixedAnchor)
            and (isinstance(net, Modular) or (isinstance(net, Cascade)
                                               and net.nonlinearity == "tanh")))


def value_and_jacobian(model, x: Tensor) -> tuple[Tensor, Tensor]:
    """P(x) = εx + s g(x) and J(x) = εI + s ∇g(x) from one network pass: (N, d) -> (N, d),
    (N, d, d)."""
    net, st = model.net, model.structure
    s = st._scale(net)
    eye = torch.eye(x.shape[1], dtype=x.dtype, device=x.device)
    if isinstance(net, Cascade):
        w = net.weight  # (H, d)
        alpha, beta = net._weights()  # (L, H)
        u = x @ w.T  # (N, H)
        z = beta[0] * (u + net.bias[0])
        dz = beta[0].expand_as(z)
        for i in range(1, net.layers):
            t = torch.tanh(z)
            dz = beta[i] + alpha[i - 1] * (1 - t * t) * dz
            z = beta[i] * (u + net.bias[i]) + alpha[i - 1] * t
        t = torch.tanh(z)
        h, dh = alpha[-1] * t, alpha[-1] * (1 - t * t) * dz  # (N, H)
        g = h @ w + net.out_bias  # (N, d)
        jac = (w.T * dh[:, None, :]) @ w  # (N, d, H) @ (H, d) -> (N, d, d)
    else:
        a, b = net._coefficients()  # (M,)
        sm = net._softmax(x)  # (N, M, H)
        g = torch.einsum("m,nmh,mhd->nd", a, sm, net.weight) + net.out_bias
        ab = a * b
        mean = torch.einsum("nmh,mhd->nmd", sm, net.weight)  # (N, M, d)
        jac = (torch.einsum("m,nmh,mhi,mhj->nij", ab, sm, net.weight, net.weight)
               - torch.einsum("m,nmi,nmj->nij", ab, mean, mean))
    return st.eps * x + s * g, st.eps * eye + s * jac


def value(model, x: Tensor) -> Tensor:
    """P(x) = εx + s g(x) alone (one network pass): (N, d) -> (N, d)."""
    return model.primitive(x)


@torch.no_grad()
def newton_fused(model, y: Tensor, max_iter: int = 60, xtol: float = 1e-13,
                 halvings: int = 40) -> tuple[Tensor, Tensor] | None:
    """Preimages of y (N, d) and their residuals ‖ŷ(x) - y‖ (N,), or None if not covered."""
    if not applies(model):
        return None
    x0, y0 = model.anchor(y[:1])  # (1, d) each
    p0, j0 = value_and_jacobian(model, x0)
    offset = y0 - p0  # ŷ(x) = offset + P(x)
    chol0 = torch.linalg.cholesky(j0)  # (1, d, d)
    start = x0 + torch.cholesky_solve((y - y0).unsqueeze(-1),
                                      chol0.expand(y.shape[0], -1, -1)).squeeze(-1)
    p, jac = value_and_jacobian(model, start)
    r = offset + p - y  # (N, d)
    r0 = y0 - y  # the anchor's residual, without a network pass
    x = start
    worse = (r * r).sum(-1) > (r0 * r0).sum(-1)
    if bool(worse.any()):
        x, r = x.clone(), r.clone()
        x[worse], r[worse], jac[worse] = x0.expand_as(x)[worse], r0[worse], j0
    size = (r * r).sum(-1)  # (N,)
    active = torch.arange(y.shape[0], device=y.device)
    last = torch.full_like(size, math.inf)
    for _ in range(max_iter):
        if active.numel() == 0:
            break
        xa, ra, sa = x[active], r[active], size[active]
        step = torch.cholesky_solve(ra.unsqueeze(-1),
                                    torch.linalg.cholesky(jac[active])).squeeze(-1)  # (P, d)
        lam = torch.ones_like(sa)
        pending = torch.ones_like(sa, dtype=torch.bool)
        xn, rn, sn, jn = xa.clone(), ra.clone(), sa.clone(), jac[active].clone()
        shorter = torch.zeros_like(pending)  # accepted at λ < 1: J still to compute
        for k in range(halvings + 1):
            idx = pending.nonzero().squeeze(1)  # (Q,)
            if idx.numel() == 0:
                break
            xt = xa[idx] - lam[idx, None] * step[idx]
            if k == 0:  # the full step, nearly always taken: ŷ and J in one pass
                pt, jt = value_and_jacobian(model, xt)
            else:  # backtracking: ŷ only
                pt, jt = value(model, xt), None
            rt = offset + pt - y[active[idx]]
            st = (rt * rt).sum(-1)
            ok = torch.isfinite(st) & (st <= (1 - 1e-4 * lam[idx]) * sa[idx])
            good = idx[ok]
            xn[good], rn[good], sn[good] = xt[ok], rt[ok], st[ok]
            if jt is not None:
                jn[good] = jt[ok]
            else:
                shorter[good] = True
            pending[good] = False
            lam[idx[~ok]] *= 0.5
        if bool(shorter.any()):
            jn[shorter] = value_and_jacobian(model, xn[shorter])[1]
        moved = ~pending
        length = torch.linalg.vector_norm(step, dim=-1)
        scale = 1 + torch.linalg.vector_norm(xa, dim=-1)
        full = moved & (lam == 1)
        settled = full & ((length <= xtol * scale)
                          | ((length <= xtol ** 0.5 * scale) & (length <= 0.1 * last[active])))
        x[active], r[active], size[active], jac[active] = xn, rn, sn, jn
        last[active] = torch.where(full, length, torch.full_like(length, math.inf))
        active = active[~((~moved) | settled | (sn == 0))]
    return x, torch.linalg.vector_norm(r, dim=-1)
