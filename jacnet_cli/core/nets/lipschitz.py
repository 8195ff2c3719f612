"""k-Lipschitz maps R^{d_x} -> R^{d_y} in every dimension, by construction, for ŷ as evaluated:
the network of the n-D `lipschitz` structure.

Why not the paper's output activation: it bounds the operator norm of the *network's* J, but
in n-D J need not be a conservative field, so the integrated ŷ's Jacobian D = dŷ/dx is
neither J nor bounded by k (paper section 4.5; measured ‖D‖₂ 1.1-2.9 for k = 1). Here the
structure owns its network, as the gradient structures do (`core.nets.gradnets`): ŷ is the
network itself (its exact antiderivative is itself)
and its Jacobian is a product of factors each of operator 2-norm <= 1,

    ŷ(x) = k · W_L σ(W_{L-1} σ(... σ(W_0 x + b_0) ...) + b_{L-1}) + b_L
    D(x) = k · W_L Σ_{L-1}(x) W_{L-1} ... Σ_0(x) W_0,    ‖W_i‖₂ <= 1,  ‖Σ_i(x)‖₂ <= 1,

so ‖D(x)‖₂ <= k for every x and every weight (submultiplicativity), and ŷ is k-Lipschitz in
the Euclidean norms. No quadrature is involved (the exact antiderivative of J is ŷ), so the
bound holds for the function as evaluated, not only for a learned J (STYLE 12/13).

Choices, and why:
- Weights (`weights`):
  "orthogonal" (default): W_i = the Cayley map (I + A)⁻¹(I − A) of a skew-symmetric
  A = rate · skew(S) formed from the raw S in the working dtype (`OrthogonalWeight`), so
  ‖W‖₂ = 1 to that dtype's rounding, with no iteration to truncate; or the matrix
  exponential of A (`orthogonal_map`). A rectangular layer (the first, d_x -> hidden, and
  the last, hidden -> d_y) is the first k columns of such a rotation, computed by Woodbury
  in O(n k²) rather than an n x n solve. `rate` (ROTATION_RATE) makes the rotations move
  as fast as the other weights under one learning rate: with torch's parametrisation the
  angles moved ~10x slower than the biases, and ortho_ridge ended at -53.9 dB (lr 0.01)
  instead of -72.7 (lr 0.1) after 2,000 steps. Torch's Householder map is refused: its
  output is orthogonal only while the raw diagonal stays ±1 (it multiplies by
  diag(X).int()), so weight decay or any perturbation of the raw weights breaks the bound
  (measured ‖W‖₂ = 2).
  With MaxMin this is a gradient-norm-preserving network (Anil et al. 2019), which does not
  lose gradient through depth. Biases start at zero (as deel-torchlip; `bias_scale` > 0
  spreads them): +4 to +11 dB on the 2-D ridge targets over torch's random biases.
  "spectral": W_i = V_i / max(1, ‖V_i‖₂) with the exact spectral norm (an SVD per layer per
  step): singular values may be < 1 (a contraction), which orthogonal layers cannot express.
  Björck / power iteration (what deel-torchlip does) are not used: a truncated iteration
  leaves ‖W‖₂ slightly above 1 and the bound then holds only approximately.
- Activations (`activation`): "maxmin" (GroupSort: each run of `group` units sorted, 2 by
  default: (a, b) -> (max, min)). Its Jacobian is a permutation matrix, norm exactly 1 and
  evaluated with no arithmetic, so it adds no rounding to the bound. "abs" (diag(±1)) and
  "tanh" (diag(1 - tanh²) <= 1) are 1-Lipschitz elementwise alternatives; tanh shrinks
  gradients (not norm-preserving).

Floating point: the bound is a product of norms each within a few ulps of 1, so the computed
Jacobian obeys ‖D‖₂ <= k (1 + c·ε). Measured worst k·Π‖W_i‖₂ / k - 1 over randomised
networks: Cayley 2.2e-15 (float64) / 9.5e-7 (float32), matrix_exp 6.9e-14 /
8.6e-6, spectral 1.1e-15 / 9.5e-7: inside the required 1e-6 in float64.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from jacnet_cli.core import checks

ACTIVATIONS = ("maxmin", "abs", "tanh")
WEIGHTS = ("orthogonal", "spectral")
MAPS = ("cayley", "matrix_exp")

#: the skew generators move this many times faster than a plain weight under the same
#: optimiser step (A = ROTATION_RATE · S): with Adam at lr 0.01 the Cayley angles then move
#: like the other weights at lr ~0.1, which the plan study measured 12 dB better on ortho_ridge
#: (-60.1 dB at lr 0.03 and -72.7 at 0.1 after 2,000 steps, vs -53.9 at lr 0.01)
ROTATION_RATE = 3.0


def _positive(key: str, value: float) -> float:
    return checks.positive(key, value)


def _integer(key: str, value: int, minimum: int) -> int:
    return checks.integer(key, value, minimum)


def groupsort(u: Tensor, group: int = 2) -> Tensor:
    """GroupSort: each run of `group` consecutive units sorted in decreasing order. (N, H).

    group = 2 is MaxMin, (u_0, u_1, ...) -> (max, min, ...). A sort: its Jacobian is a
    permutation matrix (also at ties), and one sort with its index backward costs about half
    of max/min with their masked backward.
    """
    return u.unflatten(-1, (-1, group)).sort(dim=-1, descending=True).values.flatten(-2)


def maxmin(u: Tensor) -> Tensor:
    """GroupSort of size 2 on consecutive pairs: (u_0, u_1, ...) -> (max, min, ...). (N, H)."""
    return groupsort(u, 2)


def _cayley(a: Tensor) -> Tensor:
    """(I + A)⁻¹ (I − A) for skew-symmetric A (n, n): orthogonal, det +1; I + A is never
    singular (its eigenvalues are 1 + iλ)."""
    eye = torch.eye(a.shape[-1], dtype=a.dtype, device=a.device)
    return torch.linalg.solve(eye + a, eye - a)


def _cayley_columns(b: Tensor) -> Tensor:
    """The first k columns of the Cayley rotation of A = B E_kᵀ − E_k Bᵀ, B (n, k), k < n,
    in O(n k²) by Woodbury: (n, k) with orthonormal columns.

    With U = [B, E_k] and V = [E_k, −B], A = U Vᵀ and Q E_k = 2 (I + A)⁻¹ E_k − E_k
    = E_k − 2 U (I₂ₖ + VᵀU)⁻¹ VᵀE_k. det(I₂ₖ + VᵀU) = det(I + A) ≠ 0. A ranges over every
    skew matrix supported on the first k rows and columns, which spans the tangent space of
    the k-frames at E_k: every n x k orthonormal frame near Q0 E_k is reached.
    """
    n, k = b.shape
    top = b[:k]  # (k, k)
    eye = torch.eye(k, dtype=b.dtype, device=b.device)
    m = torch.cat([torch.cat([eye + top, eye], 1),
                   torch.cat([-(b.T @ b), eye - top.T], 1)], 0)  # (2k, 2k)
    rhs = torch.cat([eye, -top.T], 0)  # (2k, k) = Vᵀ E_k
    x = torch.linalg.solve(m, rhs)  # (2k, k)
    frame = -2 * (b @ x[:k])  # (n, k)
    head = eye - 2 * x[k:]  # E_k − 2 E_k X₂: only the first k rows
    return torch.cat([frame[:k] + head, frame[k:]], 0)


def _skew_full(b: Tensor) -> Tensor:
    """The n x n skew matrix B E_kᵀ − E_k Bᵀ of a frame generator B (n, k)."""
    n, k = b.shape
    a = b.new_zeros(n, n)
    a[:, :k] = b
    return a - a.T


class OrthogonalWeight(nn.Module):
    """An exactly orthogonal (square) or orthonormal-frame (rectangular) weight (n_out, n_in).

    W = R(A): the Cayley map (or matrix exponential) of a skew-symmetric A = rate · skew(S),
    formed from the raw parameter S in the current dtype, so W is orthogonal to that dtype's
    rounding (a stored orthogonal base made in float32 would stay float32-orthogonal, 1e-7,
    after `.double()`). Square layers use the full n x n map (one LU solve); a rectangular
    layer only the first k columns of a rotation of R^n (n = the larger side, k the smaller)
    in O(n k²) by Woodbury, instead of an n x n solve; a (k, n) weight is the transpose of an
    (n, k) frame. S starts Gaussian (std START / (rate sqrt(n))), a random rotation whose
    angles spread over about ±2 rad, rather than at the identity (which would feed a frame's
    inputs to its first k units only).
    """

    START = 1.0

    def __init__(self, n_out: int, n_in: int, orthogonal_map: str = "cayley",
                 rate: float = ROTATION_RATE):
        super().__init__()
        self.n_out, self.n_in, self.map, self.rate = n_out, n_in, orthogonal_map, rate
        n, k = max(n_out, n_in), min(n_out, n_in)
        self.square = n == k
        self.raw = nn.Parameter(torch.randn(n, k) * (self.START / (rate * math.sqrt(n))))

    def forward(self) -> Tensor:
        raw = self.rate * self.raw
        if self.square:
            a = 0.5 * (raw - raw.T)
            return _cayley(a) if self.map == "cayley" else torch.linalg.matrix_exp(a)
        if self.map == "cayley":
            frame = _cayley_columns(raw)  # (n, k)
        else:
            frame = torch.linalg.matrix_exp(_skew_full(raw))[:, :raw.shape[1]]
        return frame if self.n_out >= self.n_in else frame.T

    def extra_repr(self) -> str:
        return f"{self.n_in} -> {self.n_out}, {self.map}, rate={self.rate:g}"


class SpectralWeight(nn.Module):
    """W = V / max(1, ‖V‖₂), the exact spectral norm (an SVD per call): ‖W‖₂ <= 1."""

    def __init__(self, n_out: int, n_in: int):
        super().__init__()
        v = torch.empty(n_out, n_in)
        nn.init.orthogonal_(v)
        self.raw = nn.Parameter(v)

    def forward(self) -> Tensor:
        s = torch.linalg.matrix_norm(self.raw, ord=2)  # () by SVD: exact to rounding
        return self.raw / torch.clamp(s, min=1.0)


class LipschitzNet(nn.Module):
    """ŷ: R^{d_x} -> R^{d_y} with ‖dŷ/dx‖₂ <= k at every x, by construction.

    Args:
        d_x, d_y: input and output dimensions (any, >= 1).
        k: the Lipschitz constant, > 0.
        hidden: width of each hidden layer (even for activation="maxmin").
        depth: number of hidden layers, >= 1.
        activation: "maxmin" (default), "abs" or "tanh".
        weights: "orthogonal" (default) or "spectral" (see the module docstring).
        orthogonal_map: "cayley" (default) or "matrix_exp".
        rate: how much faster the rotations' generators move than plain weights
            (ROTATION_RATE).

    Example:
        >>> net = LipschitzNet(8, 2, k=1.0)
        >>> y = net(torch.randn(5, 8))          # (5, 2)
        >>> float(net.lipschitz_bound())        # <= 1 (to rounding)
    """

    def __init__(self, d_x: int, d_y: int, k: float = 1.0, hidden: int = 64, depth: int = 2,
                 activation: str = "maxmin", weights: str = "orthogonal",
                 orthogonal_map: str = "cayley", rate: float = ROTATION_RATE, group: int = 2,
                 bias_scale: float = 0.0):
        super().__init__()
        self.group = _integer("activation.group", group, 2)
        self.bias_scale = checks.nonnegative("activation.bias_scale", bias_scale)
        self.d_x = _integer("model.d_x", d_x, 1)
        self.d_y = _integer("model.d_y", d_y, 1)
        self.k = _positive("activation.k", k)
        self.hidden = _integer("model.hidden", hidden, 1)
        self.depth = _integer("activation.layers", depth, 1)
        checks.one_of("activation.nonlinearity", activation, ACTIVATIONS)
        if activation == "maxmin" and hidden % self.group:
            raise checks.refuse("model.hidden", hidden, f"it must be a multiple of "
                                f"activation.group = {self.group} with "
                                "activation.nonlinearity=maxmin (units are sorted in groups)")
        checks.one_of("activation.weights", weights, WEIGHTS)
        checks.one_of("activation.orthogonal_map", orthogonal_map, MAPS)
        self.activation, self.weights = activation, weights
        widths = [d_x] + [hidden] * depth + [d_y]
        self.mats = nn.ModuleList(
            OrthogonalWeight(n_out, n_in, orthogonal_map, rate) if weights == "orthogonal"
            else SpectralWeight(n_out, n_in) for n_in, n_out in zip(widths[:-1], widths[1:]))
        # Zero biases (as deel-torchlip): random ones cost 9-11 dB on the 2-D ridge targets
        # (-39 vs -48 dB on ridge_sin 2->1).
        # bias_scale > 0: hidden biases uniform in ±bias_scale (kinks spread over the data
        # instead of all through the origin).
        self.biases = nn.ParameterList(
            nn.Parameter((torch.rand(n) * 2 - 1) * bias_scale if i < depth else torch.zeros(n))
            for i, n in enumerate(widths[1:]))
        self.guarantee = (f"{self.k:g}-Lipschitz: ‖dŷ/dx‖₂ <= k = {self.k:g} at every x, "
                          "for every d_x, d_y (by construction)")

    def extra_repr(self) -> str:
        return (f"d_x={self.d_x}, d_y={self.d_y}, k={self.k:g}, hidden={self.hidden}, "
                f"depth={self.depth}, activation={self.activation}, group={self.group}, "
                f"weights={self.weights}")

    def _act(self, u: Tensor) -> Tensor:
        if self.activation == "maxmin":
            return groupsort(u, self.group)
        if self.activation == "abs":
            return u.abs()
        return torch.tanh(u)

    def matrices(self) -> list[Tensor]:
        """The layers' weights W_0, ..., W_L as evaluated (each ‖W‖₂ <= 1)."""
        return [m() for m in self.mats]

    def forward(self, x: Tensor) -> Tensor:
        """ŷ(x): (N, d_x) -> (N, d_y)."""
        ws = self.matrices()
        h = x
        for w, b in zip(ws[:-1], self.biases):
            h = self._act(torch.addmm(b, h, w.T))  # (N, H)
        return self.k * (h @ ws[-1].T) + self.biases[-1]  # (N, d_y)

    def jacobian(self, x: Tensor) -> Tensor:
        """D(x) = dŷ/dx in closed form (forward mode through the layers): (N, d_x) -> (N, d_y, d_x).

        Costs O(N · hidden² · d_x); equals the autograd Jacobian (tests) wherever no MaxMin
        pair ties (a null set).
        """
        ws = self.matrices()
        h = x
        jac = None  # (N, H, d_x)
        for w, bias in zip(ws[:-1], self.biases):
            u = torch.addmm(bias, h, w.T)  # (N, H)
            jac = w.expand(x.shape[0], *w.shape) if jac is None else w @ jac  # (N, H, d_x)
            if self.activation == "maxmin":  # the rows of each group, in sorted order
                order = u.unflatten(-1, (-1, self.group)).sort(dim=-1, descending=True).indices
                rows = jac.unflatten(1, (-1, self.group))  # (N, H/g, g, d_x)
                jac = rows.gather(2, order[..., None].expand_as(rows)).flatten(1, 2)
            elif self.activation == "abs":
                jac = torch.sign(u)[..., None] * jac
            else:
                jac = (1 - torch.tanh(u) ** 2)[..., None] * jac
            h = self._act(u)
        return self.k * (ws[-1] @ jac)  # (N, d_y, d_x)

    def lipschitz_bound(self) -> Tensor:
        """k · Π ‖W_i‖₂ (exact spectral norms, activations 1-Lipschitz): a scalar bound >=
        sup_x ‖D(x)‖₂, equal to k up to rounding for orthogonal weights and <= k always."""
        ws = self.matrices()
        bound = torch.tensor(self.k, dtype=ws[0].dtype)
        for w in ws:
            bound = bound * torch.linalg.matrix_norm(w.detach(), ord=2)
        return bound
