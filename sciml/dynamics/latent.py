"""Latent NCDS: contractive dynamics in a latent space, decoded by an injective normalising-flow decoder.

Follows the latent variant of Beik-Mohammadi et al. (ICLR 2024). With data in R^D and latents in R^d (d <= D):

    decoder   g(z) = psi(pad(z)),            pad(z) = (z, 0) in R^D,  psi an invertible coupling flow on R^D
    encoder   mu(x) = unpad(psi^{-1}(x)),    log sigma^2(x) from a small MLP head (VAE)
    dynamics  z' = f(z), an NCDS field with goal z_g = mu(x_g)
    decoded   x' = J_g(z) f(z)               (a Jacobian-vector product, ``torch.func.jvp``)

g is injective (psi is a bijection), mu(g(z)) = z exactly, and a trajectory z(t) contracting to z_g decodes to
g(z(t)) converging to g(z_g): contraction holds in the metric pulled back through g, not in the Euclidean
metric of x, which is what lets the latent model fit motions whose distance to the goal is not monotone. For
d < D, g(z_g) is the projection of the data goal onto the decoded manifold, not the data goal itself.

Training minimises  |x' - J_g(mu(x)) f(mu(x))|^2  +  beta (|x - g(z)|^2 / (2 sigma_x^2 D) + KL(q(z|x) | N(0, I)) / D)
with z ~ q(z|x) = N(mu, sigma^2) (reparameterised); shapes are (batch, D) throughout.

Coupling layer (affine, alternating masks m): u -> m u + (1 - m)(u exp(s(m u)) + t(m u)) with s = tanh(.)
bounded; conditioners start at zero so the flow starts as the identity.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.func import jvp

from sciml.core.errors import ConfigError, ShapeError
from sciml.dynamics.ncds import NCDS, check_states, mlp
from sciml.models.protocol import Objective


class AffineCoupling(nn.Module):
    """One affine coupling layer on R^D with a fixed binary mask (the masked half conditions the other)."""

    def __init__(self, dim: int, mask: torch.Tensor, hidden: int, depth: int = 2) -> None:
        super().__init__()
        self.register_buffer("mask", mask.float())
        self.net = mlp(dim, 2 * dim, hidden, depth, "tanh")
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def _st(self, xm: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        s, t = self.net(xm).chunk(2, dim=-1)
        free = 1 - self.mask.to(xm.dtype)
        return torch.tanh(s) * free, t * free

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        m = self.mask.to(u.dtype)
        s, t = self._st(u * m)
        return u * m + (1 - m) * (u * torch.exp(s) + t)

    def inverse(self, x: torch.Tensor) -> torch.Tensor:
        m = self.mask.to(x.dtype)
        s, t = self._st(x * m)
        return x * m + (1 - m) * (x - t) * torch.exp(-s)


class CouplingFlow(nn.Module):
    """psi: R^D -> R^D, a stack of affine couplings with alternating masks; exact inverse."""

    def __init__(self, dim: int, n_layers: int = 4, hidden: int = 64) -> None:
        super().__init__()
        if dim < 2:
            raise ConfigError(f"a coupling flow needs dimension >= 2, got {dim}")
        idx = torch.arange(dim)
        self.layers = nn.ModuleList(AffineCoupling(dim, (idx + k) % 2 == 0, hidden) for k in range(n_layers))

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            u = layer(u)
        return u

    def inverse(self, x: torch.Tensor) -> torch.Tensor:
        for layer in reversed(self.layers):
            x = layer.inverse(x)
        return x


class LatentNCDS(nn.Module, Objective):
    """NCDS in the latent space of an injective flow decoder; see the module docstring.

    Args:
        data_dim: D; latent_dim: d (default D); flow_layers/flow_hidden: the coupling flow.
        hidden/depth/activation/eps/n_nodes: the latent NCDS. beta: weight of the ELBO term; sigma_x: decoder
        noise scale of the ELBO. goal: data-space goal (D,).
    """

    def __init__(
        self,
        data_dim: int,
        latent_dim: int | None = None,
        flow_layers: int = 4,
        flow_hidden: int = 64,
        hidden: int = 64,
        depth: int = 2,
        activation: str = "tanh",
        eps: float = 0.1,
        n_nodes: int = 12,
        beta: float = 1e-2,
        sigma_x: float = 0.1,
        goal: list[float] | None = None,
    ) -> None:
        super().__init__()
        d = data_dim if latent_dim is None else latent_dim
        if not 1 <= d <= data_dim:
            raise ConfigError(f"latent_dim must be in [1, data_dim={data_dim}], got {d}")
        self.data_dim, self.latent_dim, self.beta, self.sigma_x = data_dim, d, float(beta), float(sigma_x)
        self.flow = CouplingFlow(data_dim, flow_layers, flow_hidden)
        self.logvar_head = mlp(data_dim, d, flow_hidden, 1, "tanh")
        nn.init.constant_(self.logvar_head[-1].bias, -4.0)
        self.dynamics = NCDS(d, hidden=hidden, depth=depth, activation=activation, eps=eps, n_nodes=n_nodes)
        g = torch.zeros(data_dim) if goal is None else torch.as_tensor(goal, dtype=torch.float32)
        if g.shape != (data_dim,):
            raise ShapeError(f"goal must have shape ({data_dim},), got {tuple(g.shape)}")
        self.register_buffer("goal", g.clone())

    @property
    def eps(self) -> float:
        return self.dynamics.eps

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        pad = torch.zeros(*z.shape[:-1], self.data_dim - self.latent_dim, dtype=z.dtype, device=z.device)
        return self.flow(torch.cat([z, pad], -1))

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean unpad(psi^-1(x)) and log-variance, each (batch, d)."""
        check_states(x, self.data_dim, "latent_ncds")
        return self.flow.inverse(x)[..., : self.latent_dim], self.logvar_head(x)

    def latent_goal(self) -> torch.Tensor:
        return self.encode(self.goal.unsqueeze(0))[0][0]

    def latent_velocity(self, z: torch.Tensor) -> torch.Tensor:
        return self.dynamics(z, goal=self.latent_goal().to(z.dtype))

    def decoded_velocity(self, z: torch.Tensor) -> torch.Tensor:
        """x' = J_g(z) f(z), (batch, D)."""
        return jvp(self.decode, (z,), (self.latent_velocity(z),))[1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The decoded velocity at data points x (batch, D) (via their encoder means)."""
        return self.decoded_velocity(self.encode(x)[0])

    def objective(self, batch, grid=None) -> tuple[torch.Tensor, dict[str, float]]:
        """Velocity MSE + beta * (negative ELBO per dimension); batch is ``(x, v)`` (or a dict with "x" and "v")."""
        x, v = (batch["x"], batch["v"]) if isinstance(batch, dict) else (batch[0], batch[1])
        mu, logvar = self.encode(x)
        vel = ((self.decoded_velocity(mu) - v) ** 2).sum(-1).mean()
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
        recon = ((self.decode(z) - x) ** 2).sum(-1).mean() / (2 * self.sigma_x**2)
        kl = 0.5 * (mu**2 + logvar.exp() - 1 - logvar).sum(-1).mean()
        elbo = (recon + kl) / self.data_dim
        loss = vel + self.beta * elbo
        return loss, {"velocity_mse": float(vel.detach()), "neg_elbo": float(elbo.detach())}

    def rollout(self, x_start: torch.Tensor, t: torch.Tensor, rtol: float = 1e-6, atol: float = 1e-8) -> torch.Tensor:
        """Integrate z' = f(z) from the encoded starts and decode: (batch, n_times, D)."""
        from torchdiffeq import odeint

        zg = self.latent_goal().to(x_start.dtype)
        z0 = self.encode(x_start)[0]
        t = torch.as_tensor(t, dtype=x_start.dtype, device=x_start.device)
        zt = odeint(lambda _t, z: self.dynamics(z, goal=zg), z0, t, rtol=rtol, atol=atol).transpose(0, 1)
        return self.decode(zt)
