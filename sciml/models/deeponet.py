"""DeepONet with DeepXDE's arguments, sciml Fields and Grids, and the multi-task pieces of MT-DeepONet.

Papers: Lu, Jin, Pang, Zhang, Karniadakis, "Learning nonlinear operators via DeepONet" (Nature Machine Intelligence
2021); Kumar, Goswami et al., "Synergistic Learning with Multi-Task DeepONet for Efficient PDE Problem Solving"
(2024/2025), MT-DeepONet. The API follows DeepXDE's ``DeepONetCartesianProd`` (``layer_sizes_branch``,
``layer_sizes_trunk``, ``activation``, ``kernel_initializer``, ``num_outputs``, ``multi_output_strategy``).

Equation (output k of K):

    G(u)(y)_k = sum_{i=1..p} b_{k,i}(u) t_{k,i}(y) + beta_k        (times the mask m(y) when there is one)

with the branch ``b`` on the input (sampled functions and/or a coefficient vector through an MLP, or a CNN on a
gridded field whose channels may include a geometry mask) and the trunk ``t`` on query coordinates (an MLP,
optionally on Fourier features). As in DeepXDE, the trunk's last layer is followed by its activation and the
branch's is not; ``multi_output_strategy`` splits the p basis functions among the outputs exactly as DeepXDE's
strategies do (independent, split_both, split_branch, split_trunk).

Shapes:

* ``forward(x, grid)``: ``x`` ``(B, C, *spatial)`` (or a Field) on ``grid`` -> ``(B, K, *spatial)``: the
  cartesian product of the B inputs with the grid's points. Input channels follow one convention:
  ``coefficient_channels`` hold scalars as constant channels (their spatial mean is the coefficient vector),
  ``mask_channel`` holds the geometry mask (1 inside), every other channel is a sampled function. An MLP branch
  reads the functions at its sensors: the points of the grid along ``sensor_axes`` (index 0 along the other
  axes, e.g. the initial condition u0(x) stored constant along t); an input at another resolution is resampled
  to ``sensor_shape``. A CNN branch convolves the functions and the mask (strided convolutions, then adaptive
  average pooling to ``cnn_pool`` cells per axis), and its dense layers also take the coefficients.
* ``predict(branch_inputs, queries)``: ``branch_inputs`` a tensor ``(B, m)`` (MLP, DeepXDE's layout: sensor
  values then coefficients) or ``(B, C, *spatial)`` (CNN), or a pair ``(functions, coefficients)``;
  ``queries`` a Grid -> ``(B, K, *grid.shape)``, a PointCloud -> ``(B, K, N)``, a tensor ``(N, d)`` ->
  ``(B, N, K)`` (cartesian, DeepXDE's layout) or ``(B, N, d)`` -> ``(B, N, K)`` (aligned: each sample its own
  points). ``query_batch_size`` evaluates the trunk in chunks of points.

Multi-task pieces (MT-DeepONet): coefficient vectors (``sciml.data.fisher.reaction_coefficients`` encodes
reaction forms as c1..c4 of sum_k c_k u^k, the exponential form through its quartic Taylor polynomial); the mask
multiplies the output, so it is exactly zero outside the domain, and the objective is
``sciml.metrics.masked.masked_relative_l2`` over the points inside; transfer learning is a training stage
(``train.stages``: ``init_from`` a multi-task run, ``trainable`` e.g. ``["branch.0.conv.0.*", "branch.0.dense.*",
"trunk.0.net.4.*"]``). Parameter names: ``branch.<k>.net.<2i>`` (MLP branch layer i),
``branch.<k>.conv.<2i>`` / ``branch.<k>.dense.<2i>`` (CNN), ``trunk.<k>.net.<2i>``, ``bias``.

The model records the bounding box of the query points it saw in training (buffers ``domain_lo``/``domain_hi``,
saved with the weights) and warns when later queries leave it.

Deviations: the paper's branch MLP uses layer norm; sciml's one MLP builder has none, so there is no layer norm.
The CNN branch ends in adaptive average pooling (so it accepts any resolution) instead of a fixed flatten. The
objective (masked relative L2 per sample, or MSE with ``loss="mse"``) replaces the run's ``train.loss``. With a
mask channel, run with ``data.normalize: false`` (the normalising wrapper would rescale the 0/1 mask).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from sciml.core.errors import ConfigError, ShapeError
from sciml.fields.field import Field
from sciml.fields.grid import Grid, PointCloud
from sciml.fields.resample import resample_values
from sciml.layers.fourier_features import build_features
from sciml.layers.mlp import activation as make_activation
from sciml.layers.mlp import mlp
from sciml.metrics.masked import check_mask, masked_relative_l2
from sciml.models.inputs import resolve_input
from sciml.models.protocol import Objective, RawInputChannels

__all__ = ["DeepONet", "STRATEGIES", "INITIALIZERS"]

STRATEGIES = (None, "independent", "split_both", "split_branch", "split_trunk")

INITIALIZERS = {
    "glorot normal": nn.init.xavier_normal_,
    "glorot uniform": nn.init.xavier_uniform_,
    "he normal": lambda w: nn.init.kaiming_normal_(w, nonlinearity="relu"),
    "he uniform": lambda w: nn.init.kaiming_uniform_(w, nonlinearity="relu"),
    "lecun normal": lambda w: nn.init.kaiming_normal_(w, nonlinearity="linear"),
    "lecun uniform": lambda w: nn.init.kaiming_uniform_(w, nonlinearity="linear"),
    "orthogonal": nn.init.orthogonal_,
    "zeros": nn.init.zeros_,
}


def _activations(activation: str | dict) -> tuple[str, str]:
    if isinstance(activation, str):
        return activation, activation
    if isinstance(activation, dict) and set(activation) == {"branch", "trunk"}:
        return activation["branch"], activation["trunk"]
    raise ConfigError(f"activation must be a name or {{'branch': name, 'trunk': name}}, got {activation!r}")


_POINTS: dict[tuple[int, torch.device, torch.dtype], tuple[Any, torch.Tensor]] = {}


def _points(grid: Grid | PointCloud, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """``grid.points`` cached by grid identity (rebuilt every training step it costs as much as a small trunk)."""
    key = (id(grid), device, dtype)
    hit = _POINTS.get(key)
    if hit is not None and hit[0] is grid:  # the cache holds the grid, so its id cannot be reused meanwhile
        return hit[1]
    pts = grid.points(device=device, dtype=dtype)
    if len(_POINTS) >= 16:
        _POINTS.pop(next(iter(_POINTS)))
    _POINTS[key] = (grid, pts)
    return pts


class MLPBranch(nn.Module):
    """DeepXDE's FNN branch: ``net`` = ``mlp(layer_sizes_branch)`` on ``(B, m)`` (sensor values, coefficients)."""

    def __init__(self, sizes: Sequence[int], act: str) -> None:
        super().__init__()
        self.net = mlp(sizes, act)

    def forward(self, functions: torch.Tensor | None, coefficients: torch.Tensor | None) -> torch.Tensor:
        parts = [t for t in (functions, coefficients) if t is not None]
        return self.net(torch.cat([p.flatten(1) for p in parts], dim=1))


class CNNBranch(nn.Module):
    """Strided convolutions on ``(B, C, *spatial)``, adaptive average pooling, then dense layers that also take the
    coefficients: ``conv`` (layer i at index 2i), ``dense`` = ``mlp([flat + n_coef, *sizes[1:]])``."""

    def __init__(
        self, ndim: int, sizes: Sequence[int], act: str, channels: Sequence[int], kernel: int, pool: int, n_coef: int
    ) -> None:
        super().__init__()
        if ndim not in (1, 2, 3):
            raise ConfigError(f"the CNN branch supports 1-D, 2-D and 3-D inputs, got ndim={ndim}")
        conv_cls = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}[ndim]
        pool_cls = {1: nn.AdaptiveAvgPool1d, 2: nn.AdaptiveAvgPool2d, 3: nn.AdaptiveAvgPool3d}[ndim]
        layers: list[nn.Module] = []
        c_in = int(sizes[0])
        for c in channels:
            layers += [conv_cls(c_in, int(c), kernel, stride=2, padding=kernel // 2), make_activation(act)]
            c_in = int(c)
        self.conv = nn.Sequential(*layers)
        self.pool = pool_cls(pool)
        self.dense = mlp([c_in * pool**ndim + n_coef, *sizes[1:]], act)

    def forward(self, functions: torch.Tensor, coefficients: torch.Tensor | None) -> torch.Tensor:
        h = self.pool(self.conv(functions)).flatten(1)
        if coefficients is not None:
            h = torch.cat([h, coefficients], dim=1)
        return self.dense(h)


class Trunk(nn.Module):
    """``act(net(features(y)))`` on ``(..., d)`` coordinates (DeepXDE applies the trunk activation last too)."""

    def __init__(self, sizes: Sequence[int], act: str, features: str, n_features: int, scale: float) -> None:
        super().__init__()
        d = int(sizes[0])
        self.features = build_features(features, d, n_features=n_features, scale=scale, include_coords=True)
        if features == "none":
            self.features = nn.Identity()
            n_in = d
        else:
            n_in = self.features.out_features
        self.net = mlp([n_in, *sizes[1:]], act)
        self.act = make_activation(act)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        return self.act(self.net(self.features(y)))


class DeepONet(nn.Module, Objective, RawInputChannels):
    """DeepONet / MT-DeepONet (see the module docstring).

    Args:
        layer_sizes_branch: ``[m, h, ..., p]``; for ``branch="mlp"`` m is the number of sensor values plus
            coefficients, for ``branch="cnn"`` m is the number of CNN input channels (functions and mask) and the
            rest are the dense layers after pooling.
        layer_sizes_trunk: ``[d, h, ..., p]`` with d the number of coordinates.
        activation: one name for both nets or ``{"branch": name, "trunk": name}`` (``sciml.layers.mlp``).
        kernel_initializer: DeepXDE's names ("Glorot normal", "Glorot uniform", "He normal", ...); biases start 0.
        num_outputs, multi_output_strategy: as DeepXDE (None only with one output; None with several means
            "independent").
        use_bias: the output biases beta_k (DeepXDE always has them).
        branch: "mlp" or "cnn".
        coefficient_channels: input channels holding a constant coefficient each (in this order).
        mask_channel: input channel holding the geometry mask (1 inside); the output is multiplied by it.
        sensor_axes: spatial axes the MLP branch samples functions along (None: all).
        sensor_shape: shape of the sensor grid along ``sensor_axes``; an input of another shape is resampled to it.
        cnn_channels, cnn_kernel_size, cnn_pool: CNN branch layout.
        trunk_features: "none", "fourier" (random Fourier features) or "periodic"; ``trunk_n_features``,
            ``trunk_feature_scale`` configure them (``sciml.layers.fourier_features``).
        query_batch_size: default number of query points per trunk evaluation (None: all at once).
        loss: the objective, "relative_l2" (masked, per-sample mean) or "mse" (masked mean square).
    """

    def __init__(
        self,
        layer_sizes_branch: Sequence[int],
        layer_sizes_trunk: Sequence[int],
        activation: str | dict = "tanh",
        kernel_initializer: str = "Glorot normal",
        num_outputs: int = 1,
        multi_output_strategy: str | None = None,
        use_bias: bool = True,
        branch: str = "mlp",
        coefficient_channels: Sequence[int] = (),
        mask_channel: int | None = None,
        sensor_axes: Sequence[int] | None = None,
        sensor_shape: Sequence[int] | None = None,
        cnn_channels: Sequence[int] = (16, 32),
        cnn_kernel_size: int = 3,
        cnn_pool: int = 4,
        trunk_features: str = "none",
        trunk_n_features: int = 16,
        trunk_feature_scale: float = 1.0,
        query_batch_size: int | None = None,
        loss: str = "relative_l2",
    ) -> None:
        super().__init__()
        sb, st = [int(s) for s in layer_sizes_branch], [int(s) for s in layer_sizes_trunk]
        if len(sb) < 2 or len(st) < 2:
            raise ConfigError(
                "layer_sizes_branch and layer_sizes_trunk each need at least an input and an output size; "
                f"got layer_sizes_branch={sb}, layer_sizes_trunk={st}"
            )
        k = int(num_outputs)
        if k < 1:
            raise ConfigError(f"num_outputs must be >= 1, got {num_outputs}")
        if multi_output_strategy not in STRATEGIES:
            raise ConfigError(f"multi_output_strategy must be one of {STRATEGIES}, got {multi_output_strategy!r}")
        if k == 1 and multi_output_strategy is not None:
            raise ConfigError("num_outputs is 1, so multi_output_strategy must be None (as in DeepXDE)")
        strategy = multi_output_strategy or ("independent" if k > 1 else None)
        pb, pt = sb[-1], st[-1]
        need = {
            None: pb == pt,
            "independent": pb == pt,
            "split_both": pb == pt and pb % k == 0,
            "split_branch": pb == pt * k,
            "split_trunk": pt == pb * k,
        }[strategy]
        if not need:
            raise ConfigError(
                f"multi_output_strategy={strategy!r} with {k} outputs does not fit the last layer sizes "
                f"branch {pb}, trunk {pt} (DeepXDE's rules: equal; split_both: equal and divisible by num_outputs; "
                "split_branch: branch = trunk x num_outputs; split_trunk: trunk = branch x num_outputs)"
            )
        if branch not in ("mlp", "cnn"):
            raise ConfigError(f"branch must be 'mlp' or 'cnn', got {branch!r}")
        if loss not in ("relative_l2", "mse"):
            raise ConfigError(f"loss must be 'relative_l2' or 'mse', got {loss!r}")
        if kernel_initializer.lower() not in INITIALIZERS:
            raise ConfigError(f"unknown kernel_initializer {kernel_initializer!r}; allowed: {', '.join(INITIALIZERS)}")
        if query_batch_size is not None and query_batch_size < 1:
            raise ConfigError(f"query_batch_size must be >= 1 or null, got {query_batch_size}")
        act_b, act_t = _activations(activation)
        self.num_outputs, self.strategy, self.branch_kind, self.loss = k, strategy, branch, loss
        self.coefficient_channels = [int(c) for c in coefficient_channels]
        self.n_coefficients = len(self.coefficient_channels)
        self.mask_channel = None if mask_channel is None else int(mask_channel)
        self.sensor_axes = None if sensor_axes is None else [int(a) for a in sensor_axes]
        self.sensor_shape = None if sensor_shape is None else [int(s) for s in sensor_shape]
        self.query_batch_size = query_batch_size
        self.ndim = st[0]
        n_nets = k if strategy == "independent" else 1

        def make_branch() -> nn.Module:
            if branch == "mlp":
                return MLPBranch(sb, act_b)
            return CNNBranch(
                self.ndim, sb, act_b, cnn_channels, int(cnn_kernel_size), int(cnn_pool), self.n_coefficients
            )

        self.branch = nn.ModuleList([make_branch() for _ in range(n_nets)])
        self.trunk = nn.ModuleList(
            [Trunk(st, act_t, trunk_features, int(trunk_n_features), float(trunk_feature_scale)) for _ in range(n_nets)]
        )
        self.bias = nn.Parameter(torch.zeros(k)) if use_bias else None
        init = INITIALIZERS[kernel_initializer.lower()]
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)):
                init(m.weight)
                nn.init.zeros_(m.bias)
        self.register_buffer("domain_lo", torch.full((self.ndim,), math.inf))
        self.register_buffer("domain_hi", torch.full((self.ndim,), -math.inf))

    # ------------------------------------------------------------------ basis functions
    def _branch_vectors(self, functions, coefficients) -> list[torch.Tensor]:
        k, s = self.num_outputs, self.strategy
        if s == "independent":
            return [net(functions, coefficients) for net in self.branch]
        b = self.branch[0](functions, coefficients)
        return list(b.chunk(k, dim=-1)) if s in ("split_both", "split_branch") else [b] * k

    def _trunk_vectors(self, y: torch.Tensor) -> list[torch.Tensor]:
        k, s = self.num_outputs, self.strategy
        if s == "independent":
            return [net(y) for net in self.trunk]
        t = self.trunk[0](y)
        return list(t.chunk(k, dim=-1)) if s in ("split_both", "split_trunk") else [t] * k

    def _combine(self, bs: list[torch.Tensor], y: torch.Tensor, chunk: int | None) -> torch.Tensor:
        """(B, N, K) for cartesian ``y`` (N, d) or aligned ``y`` (B, N, d)."""
        aligned = y.dim() == 3
        n = y.shape[-2]
        step = n if not chunk else int(chunk)
        eq = "bp,bnp->bn" if aligned else "bp,np->bn"
        outs = []
        for start in range(0, n, step):
            ts = self._trunk_vectors(y[..., start : start + step, :] if step < n else y)
            outs.append(torch.stack([torch.einsum(eq, b, t) for b, t in zip(bs, ts)], dim=-1))
        out = outs[0] if len(outs) == 1 else torch.cat(outs, dim=1)
        return out + self.bias if self.bias is not None else out

    # ------------------------------------------------------------------ query domain
    def _track_domain(self, y: torch.Tensor) -> None:
        pts = y.detach().reshape(-1, y.shape[-1])
        if self.training:
            with torch.no_grad():
                self.domain_lo.copy_(torch.minimum(self.domain_lo, pts.min(0).values.to(self.domain_lo)))
                self.domain_hi.copy_(torch.maximum(self.domain_hi, pts.max(0).values.to(self.domain_hi)))
            return
        if not torch.isfinite(self.domain_lo).all():
            return  # never trained through forward/predict: no domain recorded
        lo, hi = self.domain_lo.to(pts), self.domain_hi.to(pts)
        tol = 1e-6 * (hi - lo).clamp_min(1.0)
        outside = ((pts < lo - tol) | (pts > hi + tol)).any(dim=1)
        if bool(outside.any()):
            box = [[round(float(a), 6), round(float(b), 6)] for a, b in zip(lo, hi)]
            warnings.warn(
                f"DeepONet: {int(outside.sum())} of {pts.shape[0]} query points lie outside the trained domain "
                f"{box} (per coordinate [min, max]); the trunk extrapolates there",
                UserWarning,
                stacklevel=3,
            )

    # ------------------------------------------------------------------ inputs
    def _split_inputs(self, branch_inputs) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        if isinstance(branch_inputs, torch.Tensor):
            if self.branch_kind == "mlp":
                return self._check_flat(branch_inputs), None  # DeepXDE's layout: sensor values then coefficients
            functions, coefficients = branch_inputs, None
        elif isinstance(branch_inputs, (tuple, list)) and len(branch_inputs) == 2:
            functions, coefficients = branch_inputs
        else:
            raise ShapeError(
                "branch_inputs must be a tensor or a pair (functions, coefficients), "
                f"got {type(branch_inputs).__name__}"
            )
        if coefficients is not None:
            if coefficients.dim() != 2 or coefficients.shape[1] != self.n_coefficients:
                raise ShapeError(
                    f"DeepONet: coefficient vectors must have shape (batch, {self.n_coefficients}) "
                    f"(coefficient_channels={self.coefficient_channels}), got {tuple(coefficients.shape)}"
                )
        elif self.n_coefficients:
            raise ShapeError(f"DeepONet: expected coefficient vectors of length {self.n_coefficients}, got none")
        if self.branch_kind == "mlp":
            m = self._first_size() - self.n_coefficients
            got = 0 if functions is None else functions.flatten(1).shape[1]
            if got != m:
                raise ShapeError(
                    f"DeepONet: the MLP branch expects {m} sensor values per sample "
                    f"(layer_sizes_branch[0] = {self._first_size()} minus {self.n_coefficients} coefficients), "
                    f"got {got}" + ("" if functions is None else f" (shape {tuple(functions.shape)})")
                )
        elif functions is None or functions.dim() != self.ndim + 2 or functions.shape[1] != self._first_size():
            raise ShapeError(
                f"DeepONet: the CNN branch expects fields (batch, {self._first_size()}, {self.ndim} spatial axes), "
                f"got {None if functions is None else tuple(functions.shape)}"
            )
        return functions, coefficients

    def _first_size(self) -> int:
        b = self.branch[0]
        return b.net[0].in_features if isinstance(b, MLPBranch) else b.conv[0].in_channels

    def _check_flat(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 2 or x.shape[1] != self._first_size():
            raise ShapeError(
                f"DeepONet: the MLP branch expects (batch, {self._first_size()}) inputs (sensor values then "
                f"{self.n_coefficients} coefficients), got {tuple(x.shape)}"
            )
        return x

    def branch_inputs(self, x: torch.Tensor, grid: Grid) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """Split a gridded input ``(B, C, *spatial)`` into (functions, coefficients) by the channel convention."""
        c = x.shape[1]
        special = set(self.coefficient_channels) | ({self.mask_channel} if self.mask_channel is not None else set())
        if any(ch < 0 or ch >= c for ch in special):
            raise ShapeError(
                f"DeepONet: coefficient_channels={self.coefficient_channels} and mask_channel={self.mask_channel} "
                f"must be channels of the input, which has {c} channels (shape {tuple(x.shape)})"
            )
        spatial = tuple(range(2, x.dim()))
        coef = x[:, self.coefficient_channels].mean(dim=spatial) if self.coefficient_channels else None
        fn_channels = [i for i in range(c) if i not in special]
        if self.branch_kind == "cnn":
            keep = fn_channels + ([self.mask_channel] if self.mask_channel is not None else [])
            return x[:, keep], coef
        if not fn_channels:
            return None, coef
        f = x[:, fn_channels]
        axes = list(range(grid.ndim)) if self.sensor_axes is None else self.sensor_axes
        if self.sensor_shape is not None and [f.shape[2 + a] for a in axes] != self.sensor_shape:
            shape = list(grid.shape)
            for a, s in zip(axes, self.sensor_shape):
                shape[a] = s
            f = resample_values(f, grid, grid.with_shape(shape), None)
        index = tuple(slice(None) if a in axes else 0 for a in range(grid.ndim))
        return f[(slice(None), slice(None), *index)], coef

    def mask_of(self, x: torch.Tensor) -> torch.Tensor | None:
        """The geometry mask ``(B, 1, *spatial)`` (bool) of an input, or None without a mask channel."""
        if self.mask_channel is None:
            return None
        m = x[:, self.mask_channel : self.mask_channel + 1]
        return check_mask(m, m.shape, what=f"input channel {self.mask_channel} (mask_channel)")

    def raw_input_channels(self) -> list[int]:
        """The mask channel reaches the model unscaled (a normalising wrapper would turn 0/1 into other values)."""
        return [] if self.mask_channel is None else [self.mask_channel]

    # ------------------------------------------------------------------ evaluation
    def forward(self, x, grid=None) -> torch.Tensor:
        """``(B, C, *spatial)`` (or a Field) on ``grid`` -> ``(B, num_outputs, *spatial)`` (see module docstring)."""
        x, grid = resolve_input(x, grid, self.ndim, None, "deeponet")
        functions, coefficients = self.branch_inputs(x, grid)
        return self.predict((functions, coefficients), grid, mask=self.mask_of(x))

    def predict(
        self,
        branch_inputs: Any,
        queries: Grid | PointCloud | torch.Tensor,
        *,
        mask: torch.Tensor | None = None,
        query_batch_size: int | None = None,
    ) -> torch.Tensor:
        """Evaluate at any query points; shapes in the module docstring. ``mask`` (bool or 0/1, broadcastable to
        the output: ``(*grid.shape)``, ``(B, 1, *grid.shape)``, or ``(B, N)`` / ``(N,)`` for tensor queries)
        multiplies the output."""
        functions, coefficients = self._split_inputs(branch_inputs)
        if isinstance(queries, (Grid, PointCloud)):
            ref = functions if functions is not None else coefficients
            y = _points(queries, ref.device, ref.dtype if ref.is_floating_point() else torch.get_default_dtype())
        elif isinstance(queries, torch.Tensor):
            y = queries
        else:
            raise ShapeError(f"queries must be a Grid, a PointCloud or a tensor, got {type(queries).__name__}")
        if y.dim() not in (2, 3) or y.shape[-1] != self.ndim:
            raise ShapeError(
                f"DeepONet: query points must be (N, {self.ndim}) or (batch, N, {self.ndim}), got {tuple(y.shape)}"
            )
        self._track_domain(y)
        bs = self._branch_vectors(functions, coefficients)
        if y.dim() == 3 and y.shape[0] != bs[0].shape[0]:
            raise ShapeError(f"aligned queries have batch {y.shape[0]} but the inputs have batch {bs[0].shape[0]}")
        out = self._combine(bs, y, query_batch_size or self.query_batch_size)  # (B, N, K)
        if isinstance(queries, (Grid, PointCloud)):
            out = out.transpose(1, 2).reshape(out.shape[0], self.num_outputs, *queries.shape)
            if mask is not None:
                out = out * check_mask(mask, out.shape).to(out.dtype)
        elif mask is not None:
            m = mask if mask.dtype == torch.bool else mask > 0.5
            if tuple(m.shape) not in ((out.shape[1],), tuple(out.shape[:2])):
                raise ShapeError(
                    f"mask has shape {tuple(m.shape)}; expected ({out.shape[1]},) or {tuple(out.shape[:2])} "
                    "for these query points"
                )
            out = out * m.unsqueeze(-1).to(out.dtype)
        return out

    # ------------------------------------------------------------------ training
    def objective(self, batch, grid=None):
        """Masked relative L2 per sample (or masked MSE) of ``forward(x, grid)`` against the target."""
        x, y = batch[0], batch[1]
        if isinstance(x, Field):
            grid, x = x.grid if grid is None else grid, x.values
        pred = self(x, grid)
        mask = self.mask_of(x)
        if self.loss == "mse":
            m = torch.ones_like(pred, dtype=torch.bool) if mask is None else mask.expand_as(pred)
            diff = torch.where(m, pred - y, torch.zeros((), dtype=pred.dtype, device=pred.device))
            loss = diff.square().sum() / m.sum().clamp_min(1)
        else:
            loss = masked_relative_l2(pred, y, mask, grid)
        return loss, {"fit": loss.detach()}
