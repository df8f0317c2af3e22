"""2-D Boussinesq flow on the unit torus (velocity + temperature), pseudo-spectral, forced periodic variant.

Equations on ``[0, 1)^2`` (periodic) for the vorticity ``w = dv/dx - du/dy``, stream function ``psi`` and
temperature ``T`` (buoyancy ``g T`` acting along ``+y``):

    dw/dt + u . grad w = nu lap w + f(x, y) + g dT/dx,
    dT/dt + u . grad T = kappa lap T,
    -lap psi = w,   (u_x, u_y) = (d psi / dy, -d psi / dx),
    f(x, y) = forcing_amplitude (sin 2 pi (x + y) + cos 2 pi (x + y))     (the navier_stokes forcing).

This is the ``navier_stokes`` problem of ``sciml.data.navier_stokes`` with one new variable, temperature, coupled
through buoyancy: the CoDA-NO few-shot task (pretrain on Navier-Stokes, finetune on Boussinesq). The vorticity
part reuses ``VorticitySolver`` (Fourier derivatives, 2/3-rule dealiasing, IMEX Heun: Crank-Nicolson diffusion,
explicit Heun advection, second order in ``dt``); temperature is advanced by the same scheme.

Conservation and exact solutions (tests/data/test_boussinesq.py):

* ``int T dx`` is conserved to round-off (the discrete advection term has zero mean for divergence-free ``u``),
  ``int w dx = 0`` stays zero, and without diffusion or with ``kappa > 0`` the temperature variance never grows;
* ``T = A sin(2 pi x) e^{-kappa k^2 t}``, ``w = c(t) cos(2 pi x)`` with
  ``c(t) = g A k (e^{-kappa k^2 t} - e^{-nu k^2 t}) / ((nu - kappa) k^2)``, ``k = 2 pi``, is an exact solution of
  the unforced nonlinear system (the velocity is along ``y`` and the fields depend on ``x`` only, so both advection
  terms vanish); it checks the buoyancy coupling and its sign.

Initial data: vorticity from the FNO periodic GRF (``alpha = 2.5``, ``tau = 7``, zero mean), temperature from a
smoother periodic GRF (``alpha_T``, ``tau_T``) scaled to standard deviation about ``temperature_std``; both drawn by
``sciml.data.grf.sample_grf`` from ``(seed, i)`` (temperature from the stream ``seed + 7919``). The flow is
integrated to ``t_start`` (so temperature and vorticity have interacted) and the pair ``(state(t_start),
state(t_start + T))`` is returned. The solver runs on ``solver_resolution`` (a multiple of ``resolution``) and the
output is the strided subset, so one seed gives the same flow at every output resolution dividing the solver grid.

Returns ``{"input": Field, "output": Field}`` with values ``(n_samples, 3, N, N)``, variables ``u_x, u_y, T`` (plus
``vorticity`` with ``include_vorticity=True``) on
``Grid.uniform((N, N), periodic=True, names=("x", "y"))``. Cost: ``O(n_samples N^2 log N)`` per step.
Limits: explicit advection needs ``dt max|u| N`` below about 1 (a warning is logged above 1).
"""

from __future__ import annotations

import logging
import math
from typing import Any

import torch
from tqdm.auto import tqdm

from sciml.core.errors import ConfigError, InvalidValueError
from sciml.data.navier_stokes import VorticitySolver, fno_forcing
from sciml.fields.grid import Grid

__all__ = ["generate", "BoussinesqSolver", "exact_buoyant_mode"]

log = logging.getLogger(__name__)

VARIABLES = ("u_x", "u_y", "T")
_TEMPERATURE_STREAM = 7919


class BoussinesqSolver(VorticitySolver):
    """Vorticity + temperature on the unit torus, vectorised over a batch (see module docstring).

    Args:
        n: grid points per axis. nu: viscosity. kappa: thermal diffusivity. gravity: buoyancy coefficient g.
        forcing: ``(n, n)`` vorticity forcing or None.
    """

    def __init__(self, n: int, nu: float, kappa: float, gravity: float, forcing=None, dtype=torch.float64) -> None:
        super().__init__(n, nu, forcing, dtype)
        if not (math.isfinite(kappa) and kappa >= 0):
            raise ConfigError(f"kappa must be a finite number >= 0, got {kappa!r}")
        if not math.isfinite(gravity):
            raise ConfigError(f"gravity must be finite, got {gravity!r}")
        self.kappa, self.gravity = float(kappa), float(gravity)

    def rhs(self, w_hat: torch.Tensor, t_hat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Explicit parts (dealiased): ``(-u.grad w + g dT/dx, -u.grad T)`` in Fourier space."""
        n = self.n
        psi = w_hat * self.inv_k2
        u = torch.fft.irfft2(1j * self.ky * psi, s=(n, n))
        v = torch.fft.irfft2(-1j * self.kx * psi, s=(n, n))

        def advect(f_hat):
            fx = torch.fft.irfft2(1j * self.kx * f_hat, s=(n, n))
            fy = torch.fft.irfft2(1j * self.ky * f_hat, s=(n, n))
            return -torch.fft.rfft2(u * fx + v * fy) * self.dealias

        return advect(w_hat) + self.gravity * 1j * self.kx * t_hat, advect(t_hat)

    def step2(self, w_hat: torch.Tensor, t_hat: torch.Tensor, dt: float) -> tuple[torch.Tensor, torch.Tensor]:
        """One IMEX-Heun step of both fields."""
        aw, at = 0.5 * dt * self.nu * self.k2, 0.5 * dt * self.kappa * self.k2
        f = 0.0 if self.f_hat is None else dt * self.f_hat
        nw0, nt0 = self.rhs(w_hat, t_hat)
        w_s = ((1 - aw) * w_hat + dt * nw0 + f) / (1 + aw)
        t_s = ((1 - at) * t_hat + dt * nt0) / (1 + at)
        nw1, nt1 = self.rhs(w_s, t_s)
        w_new = ((1 - aw) * w_hat + 0.5 * dt * (nw0 + nw1) + f) / (1 + aw)
        t_new = ((1 - at) * t_hat + 0.5 * dt * (nt0 + nt1)) / (1 + at)
        return w_new, t_new

    def state(self, w_hat: torch.Tensor, t_hat: torch.Tensor, vorticity: bool = False) -> torch.Tensor:
        """Physical ``(batch, 3, n, n)`` stack of ``u_x, u_y, T`` (then ``w`` when ``vorticity``)."""
        n = self.n
        psi = w_hat * self.inv_k2
        u = torch.fft.irfft2(1j * self.ky * psi, s=(n, n))
        v = torch.fft.irfft2(-1j * self.kx * psi, s=(n, n))
        extra = [torch.fft.irfft2(w_hat, s=(n, n))] if vorticity else []
        return torch.stack([u, v, torch.fft.irfft2(t_hat, s=(n, n)), *extra], dim=1)

    def integrate(self, w_hat, t_hat, n_steps: int, dt: float):
        for _ in range(n_steps):
            w_hat, t_hat = self.step2(w_hat, t_hat, dt)
        if not (torch.isfinite(w_hat).all() and torch.isfinite(t_hat).all()):
            raise InvalidValueError(f"boussinesq diverged (NaN/Inf); reduce dt={dt}")
        return w_hat, t_hat


def exact_buoyant_mode(n: int, t: float, nu: float, kappa: float, gravity: float, amplitude: float = 1.0):
    """Exact unforced solution ``(w, T)`` on the (n, n) torus grid at time ``t`` (see module docstring)."""
    k = 2 * math.pi
    x = torch.arange(n, dtype=torch.float64) / n
    decay_t, decay_w = math.exp(-kappa * k * k * t), math.exp(-nu * k * k * t)
    if abs(nu - kappa) < 1e-14:
        c = gravity * amplitude * k * t * decay_t
    else:
        c = gravity * amplitude * k * (decay_t - decay_w) / ((nu - kappa) * k * k)
    temp = amplitude * decay_t * torch.sin(k * x)[:, None].expand(n, n)
    w = c * torch.cos(k * x)[:, None].expand(n, n)
    return w.clone(), temp.clone()


def generate(
    *,
    n_samples: int,
    resolution: int,
    seed: int = 0,
    progress: bool = True,
    nu: float = 1e-3,
    kappa: float = 1e-3,
    gravity: float = 0.5,
    T: float = 0.5,
    t_start: float = 0.5,
    dt: float = 5e-3,
    solver_resolution: int | None = None,
    forcing_amplitude: float = 0.1,
    temperature_std: float = 1.0,
    alpha_T: float = 3.0,
    tau_T: float = 5.0,
    n_grf_modes: int = 16,
    batch_size: int = 64,
    dtype: str = "float32",
    include_vorticity: bool = False,
) -> dict[str, Any]:
    """Boussinesq pairs ``state(t_start) -> state(t_start + T)`` (see module docstring).

    Args:
        n_samples: number of flows. resolution: output grid points per axis. seed: sample ``i`` uses ``(seed, i)``.
        nu, kappa, gravity: viscosity, thermal diffusivity, buoyancy coefficient.
        T: time between input and output. t_start: time of the input state. dt: solver time step.
        solver_resolution: solver grid (default ``resolution``), a multiple of ``resolution``.
        forcing_amplitude: amplitude of the navier_stokes vorticity forcing (0 for none).
        temperature_std, alpha_T, tau_T: initial temperature GRF. n_grf_modes: GRF modes per axis.
        batch_size: flows integrated together. dtype: "float32" or "float64" of the returned values.
        include_vorticity: append a fourth channel "vorticity" (to match models pretrained on navier_stokes).
    """
    from sciml.data.grf import sample_grf
    from sciml.data.navier_stokes import check_torus_params, time_steps
    from sciml.fields.field import Field

    solver_resolution = check_torus_params("boussinesq", n_samples, resolution, solver_resolution, dtype)
    if not (dt > 0 and T > 0):
        raise ConfigError(f"T and dt must be positive, got T={T}, dt={dt}")
    n_start, n_out = time_steps(t_start, dt, "t_start", minimum=0), time_steps(T, dt, "T")
    n = solver_resolution
    solver = BoussinesqSolver(n, nu, kappa, gravity, fno_forcing(n, forcing_amplitude) if forcing_amplitude else None)
    grid_s = Grid.uniform((n, n), periodic=True)
    stride = n // resolution
    ins, outs = [], []
    bar = tqdm(total=n_samples, desc="boussinesq", unit="flow", disable=not progress)
    for start in range(0, n_samples, batch_size):
        nb = min(batch_size, n_samples - start)
        common = dict(n_modes=n_grf_modes, basis="periodic", drop_constant=True, first_index=start)
        w0 = sample_grf(nb, grid_s, alpha=2.5, tau=7.0, sigma=7.0**1.5, seed=seed, **common)
        # sigma of the temperature GRF chosen so its pointwise standard deviation is about temperature_std
        t0 = sample_grf(nb, grid_s, alpha=alpha_T, tau=tau_T, sigma=1.0, seed=seed + _TEMPERATURE_STREAM, **common)
        t0 = t0 * (temperature_std / _grf_std(alpha_T, tau_T, n_grf_modes))
        w_hat, t_hat = torch.fft.rfft2(w0 - w0.mean((-2, -1), keepdim=True)), torch.fft.rfft2(t0)
        w_hat[..., 0, 0] = 0.0
        u0 = solver.state(w_hat, t_hat)[:, :2]
        cfl = dt * float(u0.abs().max()) * n
        if cfl > 1.0:
            log.warning("boussinesq: initial CFL number %.2f > 1; reduce dt (=%g)", cfl, dt)
        w_hat, t_hat = solver.integrate(w_hat, t_hat, n_start, dt)
        ins.append(solver.state(w_hat, t_hat, include_vorticity)[..., ::stride, ::stride])
        w_hat, t_hat = solver.integrate(w_hat, t_hat, n_out, dt)
        outs.append(solver.state(w_hat, t_hat, include_vorticity)[..., ::stride, ::stride])
        bar.update(nb)
    bar.close()
    out_dtype = getattr(torch, dtype)
    grid = Grid.uniform((resolution, resolution), periodic=True, names=("x", "y"))
    attrs = {
        "nu": nu,
        "kappa": kappa,
        "gravity": gravity,
        "T": T,
        "t_start": t_start,
        "dt": dt,
        "forcing_amplitude": forcing_amplitude,
        "solver_resolution": solver_resolution,
    }
    time = torch.full((n_samples,), float(t_start), dtype=torch.float64)
    names = list(VARIABLES) + (["vorticity"] if include_vorticity else [])
    kw = dict(variables=names, units=["1"] * len(names), attrs=attrs)
    return {
        "input": Field(torch.cat(ins).to(out_dtype), grid, time=time, **kw),
        "output": Field(torch.cat(outs).to(out_dtype), grid, time=time + T, **kw),
    }


def _grf_std(alpha: float, tau: float, n_modes: int) -> float:
    """Pointwise standard deviation of the unit-sigma periodic GRF (sum of its eigenvalues, constant dropped)."""
    from sciml.data.grf import grf_eigenvalues

    lam = grf_eigenvalues(dim=2, alpha=alpha, tau=tau, n_modes=n_modes, basis="periodic", drop_constant=True)
    return float(math.sqrt(float(torch.as_tensor(lam).sum())))
