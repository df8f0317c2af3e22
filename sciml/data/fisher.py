"""1-D Fisher-KPP reaction-diffusion with several reaction forms, for multi-task DeepONet (MT-DeepONet).

Equation on x in [0, 1], t in [0, T], zero-flux (Neumann) boundaries u_x(t, 0) = u_x(t, 1) = 0:

    u_t = D u_xx + R(u),   u(0, x) = u0(x) in [0, 1]

Reaction forms (Kumar, Goswami et al. 2024, MT-DeepONet; a ~ U[a_range], b ~ U[b_range] per sample):

* ``"logistic"``:    R(u) = a (u - u^2)                      c = (a, -a, 0, 0)
* ``"cubic"``:       R(u) = a (u - u^3)                      c = (a, 0, -a, 0)
* ``"exponential"``: R(u) = a u (1 - u) exp(-b (1 - u))      c = a e^{-b} (1, b - 1, b^2/2 - b, b^3/6 - b^2/2)

Each form is encoded as the coefficients c1..c4 of R(u) ~ sum_k c_k u^k (``reaction_coefficients``); the
exponential form through its quartic Taylor polynomial about u = 0 (error O(u^5)). The solver integrates the TRUE
form; the coefficient vector is only the branch's description of the task. Every form has R(0) = R(1) = 0 and
R >= 0 on [0, 1], so solutions stay in [0, 1] (comparison principle).

Discretisation: method of lines on the node grid x_j = j / (M - 1), second-order central differences with the
Neumann condition by reflection (u_{-1} = u_1), a batch integrated together with scipy's ``solve_ivp``
(RK45, rtol 1e-8, atol 1e-10; ``generate`` solves each sample on its own, so sample i depends only on
(seed, i) bit for bit), output at the ``n_t`` times ``linspace(0, T, n_t)``. Validation
(tests/data/test_fisher.py): without reaction the solution of u0 = 1/2 + 0.3 cos(pi x) + 0.1 cos(3 pi x) matches
the exact heat-kernel solution 1/2 + 0.3 e^{-D pi^2 t} cos(pi x) + 0.1 e^{-9 D pi^2 t} cos(3 pi x) with
second-order convergence in x; solutions stay in [0, 1].

Initial conditions: u0 = sigmoid(g), g = ``ic_scale`` sum_{k < ic_modes} z_k / (1 + k) cos(k pi x), z_k ~ N(0, 1)
(Neumann-compatible, any resolution samples the same function), seeded by (seed, i).

Fields (``generate``): ``input`` on the (t, x) grid (n_t, M) with channels ``u0`` (the initial condition, constant
along t) and ``c1..c4`` (constant channels); ``output`` ``u`` on the same grid. Sample i has form
``forms[i % len(forms)]``; its form, a and b are in the fields' attrs.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import torch
from scipy.integrate import solve_ivp
from tqdm.auto import tqdm

from sciml.core.errors import ConfigError, ShapeError
from sciml.data.grf import parse_dtype
from sciml.fields.field import Field
from sciml.fields.grid import Grid

__all__ = ["generate", "solve_fisher", "reaction", "reaction_coefficients", "FORMS", "initial_condition"]

log = logging.getLogger(__name__)

FORMS = ("logistic", "cubic", "exponential")
_ALL_FORMS = FORMS + ("none",)
VALIDATION = (
    "reaction-free case matches the exact cosine heat-kernel solution with second-order convergence in x; "
    "solutions stay in [0, 1] (tests/data/test_fisher.py)"
)


def _check_form(form: str) -> None:
    if form not in _ALL_FORMS:
        raise ConfigError(f"unknown Fisher reaction form {form!r}; allowed: {', '.join(_ALL_FORMS)}")


def reaction(form: str, a: float, b: float, u: np.ndarray) -> np.ndarray:
    """The true reaction term R(u) of ``form`` (numpy, elementwise)."""
    _check_form(form)
    if form == "logistic":
        return a * (u - u**2)
    if form == "cubic":
        return a * (u - u**3)
    if form == "exponential":
        return a * u * (1.0 - u) * np.exp(-b * (1.0 - u))
    return np.zeros_like(u)


def reaction_coefficients(form: str, a: float, b: float = 1.0) -> np.ndarray:
    """(c1, c2, c3, c4) of R(u) ~ sum_k c_k u^k; exact for the polynomial forms, the quartic Taylor polynomial
    about u = 0 for the exponential form."""
    _check_form(form)
    if form == "logistic":
        return np.array([a, -a, 0.0, 0.0])
    if form == "cubic":
        return np.array([a, 0.0, -a, 0.0])
    if form == "exponential":
        # u (1 - u) e^{-b} e^{b u}, e^{b u} = 1 + b u + b^2 u^2 / 2 + b^3 u^3 / 6 + O(u^4)
        return a * np.exp(-b) * np.array([1.0, b - 1.0, b**2 / 2 - b, b**3 / 6 - b**2 / 2])
    return np.zeros(4)


def initial_condition(x: np.ndarray, rng: np.random.Generator, scale: float = 3.0, n_modes: int = 9) -> np.ndarray:
    """sigmoid of a random cosine series (values in (0, 1), zero slope at both ends)."""
    z = rng.standard_normal(n_modes) / (1.0 + np.arange(n_modes))
    g = scale * (z[:, None] * np.cos(np.pi * np.arange(n_modes)[:, None] * x[None])).sum(0)
    return 1.0 / (1.0 + np.exp(-g))


def solve_fisher(
    u0: np.ndarray,
    times: np.ndarray,
    diffusion: float,
    forms: Sequence[str],
    a: np.ndarray,
    b: np.ndarray,
    rtol: float = 1e-8,
    atol: float = 1e-10,
) -> np.ndarray:
    """Integrate a batch: ``u0`` (B, M) on the node grid of [0, 1] -> u (B, n_t, M) at ``times`` (from t = 0)."""
    u0 = np.asarray(u0, dtype=np.float64)
    if u0.ndim != 2 or u0.shape[1] < 3:
        raise ShapeError(f"u0 must have shape (batch, M) with M >= 3 points, got {u0.shape}")
    bsz, m = u0.shape
    if len(forms) != bsz or np.shape(a) != (bsz,) or np.shape(b) != (bsz,):
        raise ShapeError(
            f"forms, a and b need one entry per sample ({bsz}), got {len(forms)}, {np.shape(a)}, {np.shape(b)}"
        )
    for f in set(forms):
        _check_form(f)
    h = 1.0 / (m - 1)
    groups = {f: np.array([i for i, g in enumerate(forms) if g == f]) for f in set(forms)}
    a, b = np.asarray(a, dtype=np.float64)[:, None], np.asarray(b, dtype=np.float64)[:, None]

    def rhs(_t: float, y: np.ndarray) -> np.ndarray:
        u = y.reshape(bsz, m)
        lap = np.empty_like(u)
        lap[:, 1:-1] = u[:, 2:] - 2 * u[:, 1:-1] + u[:, :-2]
        lap[:, 0] = 2 * (u[:, 1] - u[:, 0])
        lap[:, -1] = 2 * (u[:, -2] - u[:, -1])
        du = diffusion * lap / h**2
        for f, idx in groups.items():
            du[idx] += reaction(f, a[idx], b[idx], u[idx])
        return du.ravel()

    sol = solve_ivp(
        rhs, (float(times[0]), float(times[-1])), u0.ravel(), t_eval=times, method="RK45", rtol=rtol, atol=atol
    )
    if not sol.success:
        raise RuntimeError(f"Fisher solve failed: {sol.message}")
    return sol.y.T.reshape(len(times), bsz, m).transpose(1, 0, 2)


def generate(
    *,
    n_samples: int,
    resolution: int | list[int] = (20, 64),
    seed: int = 0,
    progress: bool = True,
    forms: Sequence[str] = FORMS,
    a_range: Sequence[float] = (0.1, 1.0),
    b_range: Sequence[float] = (0.5, 2.0),
    diffusion: float = 0.05,
    t_final: float = 1.0,
    ic_scale: float = 2.0,
    ic_modes: int = 6,
    dtype: str = "float32",
) -> dict[str, Field]:
    """Fisher-KPP pairs on the (t, x) grid ``resolution`` = [n_t, M] (an int N gives [N, N]); see module docstring."""
    torch_dtype = parse_dtype(dtype)
    shape = [int(resolution)] * 2 if isinstance(resolution, int) else [int(r) for r in resolution]
    if len(shape) != 2 or shape[0] < 2 or shape[1] < 3:
        raise ConfigError(f"resolution must be M >= 3 or [n_t >= 2, M >= 3], got {resolution!r}")
    forms = [str(f) for f in forms]
    for f in forms:
        _check_form(f)
    if not (0 < a_range[0] <= a_range[1]) or not (b_range[0] <= b_range[1]) or diffusion <= 0 or t_final <= 0:
        raise ConfigError(f"need 0 < a_range, ordered b_range, diffusion > 0, t_final > 0; got {a_range}, {b_range}")
    grid = Grid.uniform(shape, bounds=[(0.0, float(t_final)), (0.0, 1.0)], names=["t", "x"])
    times, x = grid.coords
    log.info("fisher: %d samples on %s, forms %s", n_samples, grid, forms)
    form_of, a, b, u0 = [], np.empty(n_samples), np.empty(n_samples), np.empty((n_samples, shape[1]))
    for i in range(n_samples):
        rng = np.random.default_rng([int(seed), i])
        form_of.append(forms[i % len(forms)])
        a[i], b[i] = rng.uniform(*a_range), rng.uniform(*b_range)
        u0[i] = initial_condition(x, rng, ic_scale, ic_modes)
    u = np.empty((n_samples, *shape))
    # one solve per sample: adaptive steps shared by a batch would make sample i depend on its neighbours
    for i in tqdm(range(n_samples), desc="fisher", unit="sample", disable=not progress):
        u[i] = solve_fisher(u0[i : i + 1], times, diffusion, form_of[i : i + 1], a[i : i + 1], b[i : i + 1])[0]
    coef = np.stack([reaction_coefficients(f, ai, bi) for f, ai, bi in zip(form_of, a, b)])  # (n, 4)
    inp = np.concatenate(
        [
            np.broadcast_to(u0[:, None, None, :], (n_samples, 1, *shape)),
            np.broadcast_to(coef[:, :, None, None], (n_samples, 4, *shape)),
        ],
        axis=1,
    )
    attrs = {
        "equation": "u_t = D u_xx + R(u), u_x = 0 at x = 0, 1",
        "diffusion": float(diffusion),
        "forms": form_of,
        "a": a.tolist(),
        "b": b.tolist(),
        "coefficients": "c1..c4 of R(u) ~ sum_k c_k u^k (quartic Taylor polynomial for the exponential form)",
        "validation": VALIDATION,
    }
    return {
        "input": Field(
            torch.from_numpy(np.ascontiguousarray(inp)).to(torch_dtype),
            grid,
            variables=["u0", "c1", "c2", "c3", "c4"],
            attrs=attrs,
        ),
        "output": Field(torch.from_numpy(u[:, None]).to(torch_dtype), grid, variables=["u"], attrs=attrs),
    }
