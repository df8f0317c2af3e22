"""2-D incompressible Navier-Stokes in vorticity form on the unit torus, pseudo-spectral (the FNO data set).

Equations on ``[0, 1)^2`` (periodic), for the vorticity ``w`` and stream function ``psi``:

    dw/dt + u . grad w = nu lap w + f(x, y),      -lap psi = w,      u = (d psi / dy, -d psi / dx),
    f(x, y) = forcing_amplitude (sin 2 pi (x + y) + cos 2 pi (x + y))      (FNO: amplitude 0.1).

Discretisation: Fourier series on an ``N x N`` periodic grid (``torch.fft.rfft2``, so the solution is real by
construction), derivatives exact in Fourier space, the nonlinear term ``-u . grad w`` evaluated in physical space
and dealiased with the 2/3 rule (modes with ``|k_x| > N/3`` or ``|k_y| > N/3`` set to zero). Time stepping is
IMEX Heun: Crank-Nicolson (trapezoid) for diffusion, explicit second-order Heun for advection + forcing,

    w* = [(1 - dt nu k^2 / 2) w^n + dt (N(w^n) + f)] / (1 + dt nu k^2 / 2)
    w^{n+1} = [(1 - dt nu k^2 / 2) w^n + dt/2 (N(w^n) + N(w*)) + dt f] / (1 + dt nu k^2 / 2),

second order in ``dt``. The mean of ``w`` (mode k = 0) is zero and stays zero (it is not a degree of freedom on
the torus). Validation (tests): the Taylor-Green vortex ``w = A cos(2 pi m x) cos(2 pi m y)`` has ``u . grad w = 0``
and decays as ``exp(-8 pi^2 m^2 nu t)`` without forcing; the solver reproduces that to ``O(dt^2)``.

Initial vorticity: the periodic Gaussian random field of FNO, ``N(0, tau^(2 alpha - 2) (-lap + tau^2)^(-alpha))``
with ``alpha = 2.5``, ``tau = 7`` and the mean removed (``sciml.data.grf.sample_grf`` with basis "periodic",
``n_grf_modes`` Fourier modes per axis), evaluated exactly on the solver grid. Sample ``i`` depends only on
``(seed, i)``; the solver runs on ``solver_resolution`` (a multiple of ``resolution``) and the output is the
strided subset, so the same seed gives the same flow at every output resolution that divides the solver grid.

Shapes: ``generate`` returns ``{"input": w(t_start), "output": w(t_start + T)}`` as Fields
``(n_samples, 1, N, N)`` on the periodic unit-square grid (``Field.time`` holds the absolute times ``t_start`` and
``t_start + T``; ``t_start`` and ``T`` must be whole numbers of steps ``dt``), or, with ``trajectory=True``,
``{"trajectory": {"values": (n_samples, n_time, 1, N, N), "grid": Grid, "time": (n_time,),
"variables": ["vorticity"]}}``, the keyword arguments of ``sciml.fields.hdf5.write_trajectories``; snapshots at
``t_k = t_start + k T / n_snapshots``, ``k = 0..n_snapshots``.
Cost: ``O(n_samples N^2 log N)`` per step, ``T / dt`` steps, vectorised over ``batch_size`` samples at a time.
Limits: explicit advection needs ``dt max|u| / h`` below about 1 (a warning is logged above 1).
"""

from __future__ import annotations

import logging
import math
from typing import Any

import torch
from tqdm.auto import tqdm

from sciml.core.errors import ConfigError, InvalidValueError
from sciml.fields.grid import Grid

__all__ = ["generate", "VorticitySolver", "taylor_green"]

log = logging.getLogger(__name__)


class VorticitySolver:
    """Pseudo-spectral IMEX-Heun solver for 2-D vorticity on the unit torus, vectorised over a batch.

    Args:
        n: grid points per axis (the grid is ``Grid.uniform((n, n), periodic=True)``).
        nu: kinematic viscosity.
        forcing: ``(n, n)`` tensor of the forcing ``f`` on the grid, or None for no forcing.
        dtype: real dtype of the physical fields (float64 default).
    """

    def __init__(self, n: int, nu: float, forcing: torch.Tensor | None = None, dtype=torch.float64) -> None:
        if n < 4:
            raise ConfigError(f"navier_stokes needs at least 4 grid points per axis, got {n}")
        if not (math.isfinite(nu) and nu >= 0):
            raise ConfigError(f"nu must be a finite number >= 0, got {nu!r}")
        self.n, self.nu, self.dtype = n, float(nu), dtype
        kx = torch.fft.fftfreq(n, d=1.0 / n).to(dtype)  # integer wavenumbers along axis 0 (x)
        ky = torch.fft.rfftfreq(n, d=1.0 / n).to(dtype)  # along axis 1 (y), half spectrum
        self.kx = (2 * math.pi * kx)[:, None]
        self.ky = (2 * math.pi * ky)[None, :]
        self.k2 = self.kx**2 + self.ky**2
        k2 = self.k2.clone()
        k2[0, 0] = 1.0
        self.inv_k2 = 1.0 / k2
        self.inv_k2[0, 0] = 0.0
        cut = n / 3.0
        self.dealias = ((kx.abs()[:, None] <= cut) & (ky.abs()[None, :] <= cut)).to(dtype)
        self.f_hat = None if forcing is None else torch.fft.rfft2(forcing.to(dtype))

    def nonlinear(self, w_hat: torch.Tensor) -> torch.Tensor:
        """Fourier coefficients of ``-u . grad w`` (dealiased) for ``w_hat`` of shape (batch, n, n//2+1)."""
        n = self.n
        psi = w_hat * self.inv_k2
        u = torch.fft.irfft2(1j * self.ky * psi, s=(n, n))  # u = d psi / dy
        v = torch.fft.irfft2(-1j * self.kx * psi, s=(n, n))  # v = -d psi / dx
        wx = torch.fft.irfft2(1j * self.kx * w_hat, s=(n, n))
        wy = torch.fft.irfft2(1j * self.ky * w_hat, s=(n, n))
        return -torch.fft.rfft2(u * wx + v * wy) * self.dealias

    def velocity(self, w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Velocity ``(u, v)`` of vorticity ``w`` (batch, n, n)."""
        psi = torch.fft.rfft2(w) * self.inv_k2
        n = self.n
        return torch.fft.irfft2(1j * self.ky * psi, s=(n, n)), torch.fft.irfft2(-1j * self.kx * psi, s=(n, n))

    def step(self, w_hat: torch.Tensor, dt: float) -> torch.Tensor:
        """One IMEX-Heun step of size ``dt`` in Fourier space."""
        a = 0.5 * dt * self.nu * self.k2
        lhs = 1.0 / (1.0 + a)
        rhs0 = (1.0 - a) * w_hat
        n0 = self.nonlinear(w_hat)
        forcing = 0.0 if self.f_hat is None else dt * self.f_hat
        w_star = (rhs0 + dt * n0 + forcing) * lhs
        return (rhs0 + 0.5 * dt * (n0 + self.nonlinear(w_star)) + forcing) * lhs

    def solve(
        self, w0: torch.Tensor, t_final: float, dt: float, record_every: int | None = None, progress: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Integrate ``w0`` (batch, n, n) to ``t_final``; returns ``(snapshots (batch, n_rec, n, n), times)``.

        ``t_final / dt`` must be an integer number of steps; snapshots are taken every ``record_every`` steps
        (default: only the final state) and include ``t = 0``.
        """
        n_steps = time_steps(t_final, dt, "T")
        record_every = n_steps if record_every is None else record_every
        if n_steps % record_every:
            raise ConfigError(f"the {n_steps} time steps are not a multiple of the recording interval {record_every}")
        w_hat = torch.fft.rfft2(w0.to(self.dtype))
        w_hat[..., 0, 0] = 0.0
        u, v = self.velocity(w0.to(self.dtype))
        cfl = dt * float(torch.maximum(u.abs().max(), v.abs().max())) * self.n
        if cfl > 1.0:
            log.warning("navier_stokes: initial CFL number %.2f > 1; reduce dt (=%g) for stability", cfl, dt)
        snaps, times = [w0.to(self.dtype)], [0.0]
        bar = tqdm(total=n_steps, desc="navier_stokes", unit="step", disable=not progress, leave=False)
        for s in range(1, n_steps + 1):
            w_hat = self.step(w_hat, dt)
            if s % record_every == 0:
                w = torch.fft.irfft2(w_hat, s=(self.n, self.n))
                if not torch.isfinite(w).all():
                    raise InvalidValueError(
                        f"navier_stokes diverged (NaN/Inf) at t={s * dt:g}; reduce dt={dt} or raise nu={self.nu}"
                    )
                snaps.append(w)
                times.append(s * dt)
            bar.update(1)
        bar.close()
        return torch.stack(snaps, dim=1), torch.tensor(times, dtype=torch.float64)


def taylor_green(n: int, m: int = 1, amplitude: float = 1.0, t: float = 0.0, nu: float = 0.0) -> torch.Tensor:
    """Exact unforced Taylor-Green vorticity ``A exp(-8 pi^2 m^2 nu t) cos(2 pi m x) cos(2 pi m y)`` on (n, n)."""
    x = torch.arange(n, dtype=torch.float64) / n
    c = torch.cos(2 * math.pi * m * x)
    return amplitude * math.exp(-8 * math.pi**2 * m**2 * nu * t) * c[:, None] * c[None, :]


def fno_forcing(n: int, amplitude: float = 0.1) -> torch.Tensor:
    """``amplitude (sin 2 pi (x + y) + cos 2 pi (x + y))`` on the periodic (n, n) grid."""
    x = torch.arange(n, dtype=torch.float64) / n
    s = 2 * math.pi * (x[:, None] + x[None, :])
    return amplitude * (torch.sin(s) + torch.cos(s))


def time_steps(duration: float, dt: float, name: str, minimum: int = 1) -> int:
    """Number of steps of size ``dt`` in ``duration``, which must be an integer multiple of ``dt`` (to 1e-9)."""
    n = round(duration / dt)
    if n < minimum or abs(n * dt - duration) > 1e-9 * max(1.0, abs(duration)):
        kind = "positive" if minimum > 0 else "non-negative"
        raise ConfigError(f"{name}={duration} must be a {kind} integer multiple of dt={dt}")
    return n


def record_interval(n_steps: int, trajectory: bool, n_snapshots: Any) -> int | None:
    """Steps between recorded snapshots of a ``trajectory=True`` run (``n_snapshots`` of them after the start; ``T/dt``
    must be a multiple), or None for an input/output pair (only the final state is kept)."""
    if not trajectory:
        return None
    if isinstance(n_snapshots, bool) or not isinstance(n_snapshots, int) or n_snapshots < 1:
        raise ConfigError(f"n_snapshots must be a positive integer, got {n_snapshots!r}")
    if n_steps % n_snapshots:
        raise ConfigError(f"T/dt = {n_steps} steps must be a positive multiple of n_snapshots={n_snapshots}")
    return n_steps // n_snapshots


def check_torus_params(generator: str, n_samples, resolution, solver_resolution, dtype: str) -> int:
    """Validate the arguments shared by the torus generators; returns the solver resolution."""
    if isinstance(n_samples, bool) or not isinstance(n_samples, int) or n_samples < 1:
        raise ConfigError(f"n_samples must be a positive integer, got {n_samples!r}")
    if isinstance(resolution, bool) or not isinstance(resolution, int) or resolution < 4:
        raise ConfigError(f"{generator} resolution must be an int >= 4 (square torus grid), got {resolution!r}")
    solver_resolution = resolution if solver_resolution is None else int(solver_resolution)
    if solver_resolution % resolution:
        raise ConfigError(f"solver_resolution={solver_resolution} must be a multiple of resolution={resolution}")
    if dtype not in ("float32", "float64"):
        raise ConfigError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
    return solver_resolution


def generate(
    *,
    n_samples: int,
    resolution: int,
    seed: int = 0,
    progress: bool = True,
    nu: float = 1e-3,
    T: float = 1.0,
    dt: float = 1e-3,
    t_start: float = 0.0,
    n_snapshots: int = 10,
    trajectory: bool = False,
    solver_resolution: int | None = None,
    forcing_amplitude: float = 0.1,
    alpha: float = 2.5,
    tau: float = 7.0,
    n_grf_modes: int = 16,
    batch_size: int = 64,
    dtype: str = "float32",
) -> dict[str, Any]:
    """Vorticity data on the torus (see module docstring for equations, outputs and shapes).

    Args:
        n_samples: number of flows. resolution: output grid points per axis.
        seed: sample ``i`` uses the initial condition drawn from ``(seed, i)``.
        nu: viscosity (FNO data sets: 1e-3, 1e-4, 1e-5). T: time span recorded. dt: time step.
        t_start: burn-in time integrated (unrecorded) from the GRF before the recorded span begins, so the input
            is a developed flow; the pair is (w(t_start), w(t_start + T)) (a multiple of dt, 0 = FNO's setting).
        n_snapshots: recorded snapshots after ``t_start`` when ``trajectory=True`` (``T/dt`` must be a multiple).
        trajectory: return the whole trajectory instead of the (w(t_start), w(t_start + T)) pair.
        solver_resolution: grid of the solver (default ``resolution``), a multiple of ``resolution``.
        forcing_amplitude: 0.1 in the FNO data set; 0 for free decay.
        alpha, tau, n_grf_modes: the periodic GRF of the initial vorticity (sigma = tau^(alpha - 1)).
        batch_size: flows integrated together. dtype: "float32" or "float64" of the returned values.
    """
    from sciml.data.grf import sample_grf
    from sciml.fields.field import Field

    solver_resolution = check_torus_params("navier_stokes", n_samples, resolution, solver_resolution, dtype)
    if not (dt > 0 and T > 0 and t_start >= 0):
        raise ConfigError(f"T and dt must be positive and t_start >= 0, got T={T}, dt={dt}, t_start={t_start}")
    # validated here so that a bad value is reported under its own name (solve() only knows "T")
    time_steps(t_start, dt, "t_start", minimum=0)
    n_steps = time_steps(T, dt, "T")
    record_every = record_interval(n_steps, trajectory, n_snapshots)
    stride = solver_resolution // resolution
    solver = VorticitySolver(solver_resolution, nu, fno_forcing(solver_resolution, forcing_amplitude))
    sigma = tau ** (alpha - 1.0)
    out_dtype = getattr(torch, dtype)
    chunks, times = [], None
    bar = tqdm(total=n_samples, desc="navier_stokes", unit="flow", disable=not progress)
    for start in range(0, n_samples, batch_size):
        nb = min(batch_size, n_samples - start)
        w0 = sample_grf(
            nb,
            Grid.uniform((solver_resolution, solver_resolution), periodic=True),
            alpha=alpha,
            tau=tau,
            sigma=sigma,
            n_modes=n_grf_modes,
            basis="periodic",
            drop_constant=True,
            seed=seed,
            first_index=start,
        )
        w0 = w0 - w0.mean(dim=(-2, -1), keepdim=True)
        if t_start > 0:
            w0 = solver.solve(w0, t_start, dt)[0][:, -1]
        snaps, times = solver.solve(w0, T, dt, record_every=record_every)
        times = times + t_start  # absolute times: t_start + k T / n_snapshots (t_start ... t_start + T)
        if not trajectory:
            snaps = snaps[:, [0, -1]]
        chunks.append(snaps[..., ::stride, ::stride].to(out_dtype))
        bar.update(nb)
    bar.close()
    values = torch.cat(chunks).unsqueeze(2)  # (n, n_time, 1, N, N)
    grid = Grid.uniform((resolution, resolution), periodic=True, names=("x", "y"))
    attrs = {
        "nu": nu,
        "T": T,
        "dt": dt,
        "t_start": t_start,
        "forcing_amplitude": forcing_amplitude,
        "solver_resolution": solver_resolution,
    }
    if trajectory:
        return {"trajectory": {"values": values, "grid": grid, "time": times, "variables": ["vorticity"]}}
    # ``times`` already holds absolute times: the input is at t_start, the output at t_start + T
    t_in = torch.full((n_samples,), float(times[0]), dtype=torch.float64)
    t_out = torch.full((n_samples,), float(times[-1]), dtype=torch.float64)
    return {
        "input": Field(values[:, 0], grid, variables=["vorticity"], time=t_in, attrs=attrs),
        "output": Field(values[:, -1], grid, variables=["vorticity"], time=t_out, attrs=attrs),
    }
