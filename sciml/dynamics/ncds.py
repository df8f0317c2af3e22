"""Neural contractive dynamical systems (NCDS): a learned vector field x' = f(x) that converges to a goal.

Follows Beik-Mohammadi et al., "Neural Contractive Dynamical Systems" (ICLR 2024). A network outputs a d x d
matrix J_hat(x) and

    J(x) = -(J_hat(x)^T J_hat(x) + eps I),          f(x) = int_0^1 J(x0 + t (x - x0)) (x - x0) dt,

so f(x0) = 0 by construction and f(x) = A(x) (x - x0) with A(x) the (quadrature-weighted) average of J along
the segment: u^T A u <= -eps |u|^2, hence (x - x0)^T f(x) <= -eps |x - x0|^2 for every x, the goal is the
unique equilibrium and every trajectory obeys |x(t) - x0| <= exp(-eps t) |x(0) - x0|. Gauss-Legendre
quadrature (positive weights) keeps this inequality exact; see ``line_integral.py``.

What this guarantees and what it does not: J is the Jacobian of f only when J is curl-free, which a generic
network is not. The symmetric part of the *true* Jacobian of f can have positive eigenvalues (not contracting
in the identity metric in the strict sense); ``max_symmetric_jacobian_eigenvalue`` measures it. The
guarantee above (distance to the goal decays at rate eps) holds regardless.

Shapes: states are (batch, d); ``rollout`` returns (batch, n_times, d). Differences from the paper: J_hat is
a plain tanh MLP (bounded, so f grows at most linearly far from the data) and the goal is a fixed buffer
(the data's end point) rather than a learned quantity.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torchdiffeq import odeint

from sciml.core.errors import ConfigError, InvalidValueError, ShapeError
from sciml.dynamics.line_integral import INTEGRATORS, line_integral
from sciml.layers.mlp import mlp as layers_mlp
from sciml.models.protocol import Objective


def mlp(d_in: int, d_out: int, hidden: int, depth: int, activation: str = "tanh") -> nn.Sequential:
    """A plain MLP with ``depth`` hidden layers of width ``hidden`` (``sciml.layers.mlp``)."""
    if depth < 1 or hidden < 1:
        raise ConfigError(f"depth and hidden must be >= 1, got depth={depth}, hidden={hidden}")
    return layers_mlp([d_in] + [hidden] * depth + [d_out], activation)


def check_states(x: Any, dim: int, model: str) -> None:
    """States are floating-point tensors of shape (batch, dim): anything else is a ShapeError naming what came."""
    if not isinstance(x, torch.Tensor):
        raise ShapeError(f"{model}: states must be a tensor of shape (batch, {dim}), got {type(x).__name__}")
    if not x.is_floating_point():
        raise ShapeError(
            f"{model}: states must be a floating-point tensor, got dtype {x.dtype} (shape {tuple(x.shape)})"
        )
    if x.ndim != 2 or x.shape[-1] != dim:
        raise ShapeError(f"{model} expects x of shape (batch, {dim}), got {tuple(x.shape)}")


class VelocityObjective(Objective):
    """Objective of the Euclidean fields: mean |f(x) - v|^2 over demonstrated (position, velocity) pairs."""

    def objective(self, batch, grid=None) -> tuple[torch.Tensor, dict[str, float]]:
        x, v = batch[0], batch[1]
        return ((self(x) - v) ** 2).sum(-1).mean(), {}


class NCDS(nn.Module, VelocityObjective):
    """Contractive vector field f(x) = int_0^1 J(x0 + t(x - x0))(x - x0) dt with J = -(J_hat^T J_hat + eps I).

    Args:
        dim: state dimension d.
        hidden, depth, activation: the J_hat MLP (R^d -> R^{d x d}).
        eps: guaranteed contraction rate (> 0), in inverse time units of the data.
        integrator: ``"quadrature"`` (Gauss-Legendre, default) or ``"odeint"`` (torchdiffeq, reference).
        n_nodes: Gauss-Legendre nodes; rtol/atol/method: odeint settings for the line integral.
        goal: the equilibrium x0 (d,), default the origin.
        blocks: sizes of diagonal blocks of J_hat (summing to d), e.g. ``[3, 3]``; None: a full d x d J_hat.
            With blocks, J(x) is block-diagonal (its entries still depend on the whole x), so each block of the
            state contracts on its own: (x_b - x0_b)^T f_b(x) <= -eps |x_b - x0_b|^2, and every |x_b - x0_b|
            is non-increasing (not only their sum). ``SO3NCDS`` uses this to keep the rotation in its chart.
    """

    def __init__(
        self,
        dim: int,
        hidden: int = 64,
        depth: int = 2,
        activation: str = "tanh",
        eps: float = 0.1,
        integrator: str = "quadrature",
        n_nodes: int = 12,
        rtol: float = 1e-7,
        atol: float = 1e-9,
        method: str = "dopri5",
        goal: list[float] | None = None,
        blocks: list[int] | None = None,
    ) -> None:
        super().__init__()
        if dim < 1:
            raise ConfigError(f"dim must be >= 1, got {dim}")
        if blocks is not None and (sum(blocks) != dim or any(int(b) < 1 for b in blocks)):
            raise ConfigError(f"blocks must be positive sizes summing to dim={dim}, got {blocks}")
        if not eps > 0:
            raise ConfigError(f"eps must be > 0 (it is the guaranteed contraction rate), got {eps}")
        if integrator not in INTEGRATORS:
            raise ConfigError(f"unknown integrator {integrator!r}; allowed: {', '.join(INTEGRATORS)}")
        if n_nodes < 1:
            raise ConfigError(f"n_nodes (quadrature nodes of the line integral) must be >= 1, got {n_nodes}")
        self.dim, self.eps, self.integrator, self.n_nodes = dim, float(eps), integrator, n_nodes
        self.rtol, self.atol, self.method = rtol, atol, method
        self.net = mlp(dim, dim * dim, hidden, depth, activation)
        g = torch.zeros(dim) if goal is None else torch.as_tensor(goal, dtype=torch.float32)
        if g.shape != (dim,):
            raise ShapeError(f"goal must have shape ({dim},), got {tuple(g.shape)}")
        self.register_buffer("goal", g.clone())
        self.blocks = [int(b) for b in blocks] if blocks is not None else None
        if self.blocks is not None:
            self.register_buffer("block_mask", torch.block_diag(*[torch.ones(b, b) for b in self.blocks]))
        else:
            self.block_mask = None

    def jhat(self, x: torch.Tensor) -> torch.Tensor:
        """J_hat(x): (batch, d) -> (batch, d, d) (block-diagonal when ``blocks`` is set)."""
        jh = self.net(x).view(*x.shape[:-1], self.dim, self.dim)
        return jh if self.block_mask is None else jh * self.block_mask.to(jh.dtype)

    def jacobian(self, x: torch.Tensor) -> torch.Tensor:
        """The symmetric negative definite J(x) = -(J_hat^T J_hat + eps I), (batch, d, d)."""
        jh = self.jhat(x)
        eye = torch.eye(self.dim, dtype=x.dtype, device=x.device)
        return -(jh.transpose(-1, -2) @ jh + self.eps * eye)

    def jacobian_vector(self, x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """J(x) v without forming J: -(J_hat^T (J_hat v) + eps v); (m, d), (m, d) -> (m, d)."""
        jh = self.jhat(x)
        u = (jh @ v.unsqueeze(-1)).squeeze(-1)
        return -((jh.transpose(-1, -2) @ u.unsqueeze(-1)).squeeze(-1) + self.eps * v)

    def forward(self, x: torch.Tensor, goal: torch.Tensor | None = None, integrator: str | None = None) -> torch.Tensor:
        """f(x) for x (batch, d); ``goal`` overrides the stored equilibrium (used by the latent variant)."""
        check_states(x, self.dim, "NCDS")
        goal = self.goal if goal is None else goal
        return line_integral(
            self.jacobian_vector,
            x,
            goal,
            integrator=integrator or self.integrator,
            n_nodes=self.n_nodes,
            rtol=self.rtol,
            atol=self.atol,
            method=self.method,
        )


class MLPField(nn.Module, VelocityObjective):
    """Baseline: an unconstrained MLP velocity field f(x) = MLP(x) (no stability guarantee)."""

    def __init__(self, dim: int, hidden: int = 64, depth: int = 2, activation: str = "tanh", goal=None) -> None:
        super().__init__()
        self.dim = dim
        self.net = mlp(dim, dim, hidden, depth, activation)
        self.register_buffer("goal", torch.zeros(dim) if goal is None else torch.as_tensor(goal, dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_states(x, self.dim, "mlp_field")
        return self.net(x)


class LinearStableField(nn.Module, VelocityObjective):
    """Baseline: f(x) = A (x - x0) with A = -(B^T B + eps I) + (S - S^T), so (x-x0)^T f <= -eps |x-x0|^2."""

    def __init__(self, dim: int, eps: float = 0.1, goal=None) -> None:
        super().__init__()
        if dim < 1:
            raise ConfigError(f"dim must be >= 1, got {dim}")
        self.dim, self.eps = dim, float(eps)
        self.B = nn.Parameter(torch.eye(dim))
        self.S = nn.Parameter(torch.zeros(dim, dim))
        self.register_buffer("goal", torch.zeros(dim) if goal is None else torch.as_tensor(goal, dtype=torch.float32))

    def matrix(self) -> torch.Tensor:
        eye = torch.eye(self.dim, dtype=self.B.dtype, device=self.B.device)
        return -(self.B.T @ self.B + self.eps * eye) + (self.S - self.S.T)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_states(x, self.dim, "linear_stable")
        return (x - self.goal) @ self.matrix().T


def rollout(
    field: nn.Module,
    x_start: torch.Tensor,
    t: torch.Tensor,
    method: str = "dopri5",
    rtol: float = 1e-6,
    atol: float = 1e-8,
) -> torch.Tensor:
    """Integrate x' = field(x) from x_start (batch, d) at times t (n_times,) with torchdiffeq; (batch, n_times, d)."""
    if x_start.ndim != 2:
        raise ShapeError(f"x_start must be (batch, dim), got {tuple(x_start.shape)}")
    t = torch.as_tensor(t, dtype=x_start.dtype, device=x_start.device)
    options = {"step_size": float(t[1] - t[0])} if method in ("rk4", "euler", "midpoint") and len(t) > 1 else None
    traj = odeint(lambda _t, x: field(x), x_start, t, method=method, rtol=rtol, atol=atol, options=options)
    return traj.transpose(0, 1)


def true_jacobian(field: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The Jacobian df/dx of a field at points x (batch, d) by autograd, (batch, d, d)."""
    from torch.func import jacrev, vmap

    return vmap(jacrev(lambda p: field(p.unsqueeze(0)).squeeze(0)))(x)


def max_symmetric_jacobian_eigenvalue(field: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Largest eigenvalue of (Df + Df^T)/2 at each point x (batch, d) -> (batch,).

    The documented NCDS caveat: this can be positive for a generic network (J is not curl-free), even though
    (x - x0)^T f(x) <= -eps |x - x0|^2 always holds. Negative everywhere would mean contraction in the
    identity metric.
    """
    jac = true_jacobian(field, x)
    sym = 0.5 * (jac + jac.transpose(-1, -2))
    vals = torch.linalg.eigvalsh(sym)
    if not torch.isfinite(vals).all():
        raise InvalidValueError("the Jacobian of the field contains NaN or Inf at some of the given points")
    return vals[..., -1].detach()
