"""VANO: variational autoencoding neural operator (Seidman, Kissas, Pappas, Perdikaris, ICML 2023).

An encoder maps an input function u to q(z | u) = N(mu(u), diag(exp(logvar(u)))) over z in R^n; a decoder maps
z to a function D(z) evaluated pointwise at any query points y. Trained with the function-space ELBO

    loss = E_{z ~ q} [ 0.5 w_u ||u - D(z)||^2_{L2(Omega)} / |Omega| ] + beta * KL(q(z | u) || N(0, I)),

with the L2 norm computed by the grid's quadrature, ``w_u = 1 / (||u||^2 / |Omega|)`` (``weighting="relative"``)
or 1 (``"none"``), the expectation a mean over ``n_samples`` reparameterised draws z = mu + eps exp(logvar / 2)
decoded in one batched call, and the KL in closed form. ``beta`` plays the role of the likelihood noise variance
(the Cameron-Martin form of the Gaussian likelihood on function space); ``beta = 0`` is a weighted MSE.

Shapes: inputs ``(batch, channels, *spatial)`` on a ``Grid`` (default: uniform, non-periodic on [0, 1]^d);
``encode -> (mu, logvar)`` each ``(batch, n)``; ``decode(z, where)`` with ``z (..., n)`` returns
``(..., out_channels, *grid.shape)`` on a Grid or ``(..., out_channels, n_points)`` on a PointCloud / a
``(n_points, d)`` tensor of coordinates.

Differences from the paper, and why: the default encoder is a discretization-agnostic neural operator (a
quadrature integral against learned functions, optionally after spectral layers) instead of a fixed-grid
MLP/CNN, so a trained model encodes functions sampled on any grid; the paper's style of encoder is offered as
``encoder="cnn"``. Reconstruction errors are quadrature means rather than sums over points, so ``beta`` has the
same meaning at every resolution. ``forward`` decodes the posterior mean (deterministic) so VANO fits the
``forward(x, grid) -> (batch, C, *spatial)`` contract of every sciml model.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from sciml.core.errors import ConfigError, ShapeError
from sciml.fields.grid import Grid, PointCloud
from sciml.layers.fourier_features import build_features
from sciml.models.inputs import resolve_input
from sciml.models.protocol import Generative, Objective
from sciml.models.vano.decoders import LinearDecoder, build_decoder
from sciml.models.vano.encoders import CNNEncoder, OperatorEncoder

__all__ = ["VANO", "gaussian_kl"]


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, diag exp(logvar)) || N(0, I)) = 0.5 sum_j (mu_j^2 + sigma_j^2 - 1 - log sigma_j^2); shape (batch,)."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(-1)


def _unpack(x: Any, grid: Grid | None, ndim: int | None = None) -> tuple[torch.Tensor, Grid]:
    """A tensor plus grid or a Field, as ``(values, grid)`` (``resolve_input``), with ``ndim`` spatial axes."""
    if isinstance(x, torch.Tensor) and x.dim() < 3:
        raise ShapeError(f"VANO expects (batch, channels, *spatial), got shape {tuple(x.shape)}")
    return resolve_input(x, grid, ndim, None, "VANO")


class VANO(nn.Module, Objective, Generative):
    """Variational autoencoding neural operator; see the module docstring for the model and loss.

    Args:
        in_channels: channels of the input function.
        out_channels: channels of the decoded function (default ``in_channels``).
        ndim: spatial dimension d of the domain.
        latent_dim: n, size of z.
        encoder: ``"operator"`` (discretization-agnostic) or ``"cnn"`` (tied to ``input_shape``).
        encoder_width, encoder_layers, encoder_modes, encoder_pool: operator encoder lift width, number of
            spectral layers (0: none), Fourier modes per axis, number of learned integral kernels; for the CNN
            encoder ``encoder_width`` is the first conv width and ``encoder_layers`` the number of strided convs.
        input_shape: spatial shape the CNN encoder is tied to.
        decoder: ``"linear"`` (learned KL expansion), ``"concat"`` or ``"split"`` (nonlinear).
        decoder_width, decoder_depth: hidden width and number of hidden layers of the decoder MLP.
        mean_function: add a learned mean function m(y) to the linear decoder.
        features: coordinate encoding gamma: ``"periodic"``, ``"fourier"`` (random Fourier features) or ``"none"``.
        n_features: harmonics per axis (periodic) or number of random frequencies (fourier).
        feature_scale: standard deviation of the random frequencies B.
        trainable_features: make B trainable.
        include_coords: append y to gamma(y).
        period: period(s) of the periodic features (physical length of the domain).
        beta: weight of the KL term (noise variance of the likelihood).
        n_samples: Monte Carlo samples of z per input in the ELBO.
        weighting: ``"relative"`` (w_u = 1 / mean(u^2)) or ``"none"``.
        seed: seed of the random Fourier features.
    """

    def __init__(
        self,
        in_channels: int = 1,
        out_channels: int | None = None,
        ndim: int = 1,
        latent_dim: int = 32,
        encoder: str = "operator",
        encoder_width: int = 32,
        encoder_layers: int = 0,
        encoder_modes: int = 12,
        encoder_pool: int = 64,
        input_shape: Sequence[int] | None = None,
        decoder: str = "linear",
        decoder_width: int = 64,
        decoder_depth: int = 3,
        mean_function: bool = True,
        features: str = "periodic",
        n_features: int = 8,
        feature_scale: float = 1.0,
        trainable_features: bool = True,
        include_coords: bool = False,
        period: float | Sequence[float] = 1.0,
        beta: float = 1e-4,
        n_samples: int = 1,
        weighting: str = "relative",
        seed: int = 0,
    ) -> None:
        super().__init__()
        if ndim < 1 or latent_dim < 1 or in_channels < 1:
            raise ConfigError(f"ndim, latent_dim and in_channels must be >= 1, got {ndim}, {latent_dim}, {in_channels}")
        if weighting not in ("relative", "none"):
            raise ConfigError(f"weighting must be 'relative' or 'none', got {weighting!r}")
        if beta < 0 or n_samples < 1:
            raise ConfigError(f"beta must be >= 0 and n_samples >= 1, got {beta} and {n_samples}")
        self.in_channels = in_channels
        self.out_channels = out_channels or in_channels
        self.ndim, self.latent_dim = ndim, latent_dim
        self.beta, self.n_samples, self.weighting = float(beta), int(n_samples), weighting
        feat = dict(
            kind=features,
            n_features=n_features,
            period=period,
            scale=feature_scale,
            trainable=trainable_features,
            include_coords=include_coords,
            seed=seed,
        )
        if encoder == "operator":
            self.encoder: nn.Module = OperatorEncoder(
                in_channels, latent_dim, ndim, encoder_width, encoder_layers, encoder_modes, encoder_pool, feat
            )
        elif encoder == "cnn":
            self.encoder = CNNEncoder(in_channels, latent_dim, ndim, input_shape, encoder_width, encoder_layers or 3)
        else:
            raise ConfigError(f"unknown encoder {encoder!r}; allowed: 'operator' (grid-agnostic), 'cnn' (fixed grid)")
        self.gamma = build_features(ndim=ndim, **feat)
        self.decoder = build_decoder(
            decoder, latent_dim, self.gamma.out_features, self.out_channels, decoder_width, decoder_depth, mean_function
        )

    # ------------------------------------------------------------------ encoder / decoder
    def encode(self, x: Any, grid: Grid | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior parameters ``(mu, logvar)``, each ``(batch, latent_dim)``; logvar clamped to [-30, 20]."""
        x, grid = _unpack(x, grid, self.ndim)
        if x.shape[1] != self.in_channels:
            raise ShapeError(
                f"VANO was built for {self.in_channels} input channel(s), got {x.shape[1]} (shape {tuple(x.shape)})"
            )
        mu, logvar = self.encoder(x, grid)
        return mu, logvar.clamp(-30.0, 20.0)

    def _query(self, where: Grid | PointCloud | torch.Tensor, ref: torch.Tensor) -> tuple[torch.Tensor, tuple]:
        if isinstance(where, Grid):
            return where.points(ref.device, ref.dtype), where.shape
        if isinstance(where, PointCloud):
            return where.points(ref.device, ref.dtype), (where.size,)
        if isinstance(where, torch.Tensor):
            pts = where.to(ref.device, ref.dtype)
            if pts.dim() == 1 and self.ndim == 1:
                pts = pts[:, None]
            if pts.dim() != 2 or pts.shape[1] != self.ndim:
                raise ShapeError(f"query points must have shape (n_points, {self.ndim}), got {tuple(where.shape)}")
            return pts, (pts.shape[0],)
        raise ShapeError(f"decode needs a Grid, a PointCloud or an (n_points, d) tensor, got {type(where).__name__}")

    def decode(self, z: torch.Tensor, where: Grid | PointCloud | torch.Tensor) -> torch.Tensor:
        """Decode latents ``z (..., n)`` at the points of ``where``: ``(..., C, *grid.shape)`` or ``(..., C, P)``."""
        if z.shape[-1] != self.latent_dim:
            raise ShapeError(f"z must end with latent_dim={self.latent_dim}, got shape {tuple(z.shape)}")
        pts, shape = self._query(where, z)
        lead = z.shape[:-1]
        out = self.decoder(z.reshape(-1, self.latent_dim), self.gamma(pts))
        return out.reshape(*lead, self.out_channels, *shape)

    def reparameterize(
        self, mu: torch.Tensor, logvar: torch.Tensor, n_samples: int = 1, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """``n_samples`` draws ``z = mu + eps exp(logvar / 2)``, shape ``(n_samples, batch, n)``."""
        eps = torch.randn((n_samples, *mu.shape), generator=generator, device=mu.device, dtype=mu.dtype)
        return mu + eps * torch.exp(0.5 * logvar)

    # ------------------------------------------------------------------ user-facing operations
    def forward(self, x: Any, grid: Grid | None = None) -> torch.Tensor:
        """Reconstruction from the posterior mean on the input's grid, ``(batch, C, *spatial)``."""
        x, grid = _unpack(x, grid)
        mu, _ = self.encode(x, grid)
        return self.decode(mu, grid)

    def reconstruct(
        self,
        x: Any,
        grid: Grid | None = None,
        where: Grid | PointCloud | torch.Tensor | None = None,
        sample: bool = False,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Encode on ``grid`` and decode on ``where`` (default the same grid); ``sample`` draws z from q(z|u)."""
        x, grid = _unpack(x, grid)
        mu, logvar = self.encode(x, grid)
        z = self.reparameterize(mu, logvar, 1, generator)[0] if sample else mu
        return self.decode(z, grid if where is None else where)

    def sample(
        self, n: int, where: Grid | PointCloud | torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """``n`` functions from the generative model: z ~ N(0, I) decoded on ``where``."""
        p = next(self.parameters())
        z = torch.randn(n, self.latent_dim, generator=generator, dtype=p.dtype).to(p.device)
        return self.decode(z, where)

    def interpolate(
        self,
        x1: Any,
        x2: Any,
        n_steps: int = 8,
        grid: Grid | None = None,
        where: Grid | PointCloud | torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Decode ``(1 - t) mu(x1) + t mu(x2)`` for ``n_steps`` values of t in [0, 1]: ``(n_steps, C, *shape)``.

        ``x1`` and ``x2`` are single functions, ``(C, *spatial)`` or ``(1, C, *spatial)``.
        """
        if n_steps < 2:
            raise ConfigError(f"n_steps must be >= 2, got {n_steps}")
        xs = []
        for x in (x1, x2):
            if isinstance(x, torch.Tensor) and x.dim() == self.ndim + 1:
                x = x[None]
            xs.append(x)
        x, grid = _unpack(torch.cat([xs[0], xs[1]], 0), grid)
        mu, _ = self.encode(x, grid)
        t = torch.linspace(0, 1, n_steps, dtype=mu.dtype, device=mu.device)[:, None]
        return self.decode((1 - t) * mu[0] + t * mu[1], grid if where is None else where)

    # ------------------------------------------------------------------ objective
    def elbo(
        self,
        x: Any,
        grid: Grid | None = None,
        target: torch.Tensor | None = None,
        n_samples: int | None = None,
        beta: float | None = None,
        generator: torch.Generator | None = None,
        query_points: int | None = None,
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """Negative ELBO (the loss to minimise) and its parts; see the module docstring.

        ``target`` (default ``x``) is the function the decoder must reproduce, on the same grid.
        ``query_points``: decode at that many grid points drawn at random (without replacement, shared by the batch)
        instead of at all of them; the reconstruction term then uses the quadrature weights of the drawn points
        renormalised to sum to one, which on a uniform grid is an unbiased estimate of the full term at a fraction
        of the decoder's cost. The encoder always sees the whole input.
        """
        x, grid = _unpack(x, grid)
        u = x if target is None else target
        grid.check_values(u, "target")
        beta = self.beta if beta is None else float(beta)
        mu, logvar = self.encode(x, grid)
        z = self.reparameterize(mu, logvar, n_samples or self.n_samples, generator)  # (S, B, n)
        q = grid.weights(u.device, u.dtype, normalized=True)
        if query_points is not None and query_points < grid.size:
            if query_points < 1:
                raise ConfigError(f"query_points must be >= 1, got {query_points}")
            idx = torch.randperm(grid.size, generator=generator)[:query_points].to(u.device)
            pts = grid.points(u.device, u.dtype).reshape(-1, self.ndim)[idx]
            rec = self.decode(z, pts)  # (S, B, C, P)
            u = u.flatten(2)[..., idx]
            q = q.reshape(-1)[idx]
            q = q / q.sum()
            dims: tuple[int, ...] = (-2, -1)
        else:
            rec = self.decode(z, grid)  # (S, B, C, *spatial)
            dims = tuple(range(-grid.ndim - 1, 0))
        sq = ((rec - u) ** 2 * q).sum(dims)  # (S, B): mean-square error over channels and space
        if self.weighting == "relative":
            sq = sq / (u**2 * q).sum(dims).clamp_min(1e-12)
        recon = 0.5 * sq.mean()
        kl = gaussian_kl(mu, logvar).mean()
        loss = recon + beta * kl
        metrics = {"recon": float(recon.detach()), "kl": float(kl.detach())}
        if self.weighting == "relative":  # recon is then half the mean squared relative L2 error
            metrics["rel_l2"] = float(torch.sqrt(2 * recon.detach()))
        return loss, metrics

    def objective(self, batch: Any, grid: Grid | None = None) -> tuple[torch.Tensor, dict[str, float]]:
        """ELBO for the generic Trainer; ``batch`` is ``(x, y)`` (y = x when autoencoding), a dict or a tensor."""
        if isinstance(batch, dict):
            x = batch.get("input", batch.get("x"))
            y = batch.get("output", batch.get("y", x))
        elif isinstance(batch, (tuple, list)):
            x, y = batch[0], batch[1] if len(batch) > 1 else batch[0]
        else:
            x = y = batch
        x, grid = _unpack(x, grid)
        y, _ = _unpack(y, grid)
        return self.elbo(x, grid, target=y)

    # ------------------------------------------------------------------ linear decoder: learned KL expansion
    def decoder_basis(self, where: Grid | PointCloud | torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Linear decoder only: ``tau`` ``(n, C, *shape)`` and mean ``m`` ``(C, *shape)`` (or None)."""
        if not isinstance(self.decoder, LinearDecoder):
            raise ConfigError("decoder_basis needs decoder='linear'")
        p = next(self.parameters())
        pts, shape = self._query(where, p)
        tau, m = self.decoder.basis(self.gamma(pts))
        return tau.reshape(self.latent_dim, self.out_channels, *shape), (
            None if m is None else m.reshape(self.out_channels, *shape)
        )

    def decoder_covariance(self, where: Grid | PointCloud | torch.Tensor) -> torch.Tensor:
        """Covariance of the prior push-forward ``sum_j tau_j(y) tau_j(y')``, flattened to ``(C*P, C*P)``."""
        tau, _ = self.decoder_basis(where)
        t = tau.reshape(self.latent_dim, -1)
        return t.T @ t
