"""Mini-batch linear CKA (Nguyen, Raghu & Kornblith 2021) with the unbiased HSIC (Song et al. 2012).

For mini-batch i with activations X_i: (n, d1) and Y_i: (n, d2), K_i = X_i X_i^T and L_i = Y_i Y_i^T
with their diagonals set to zero,

    HSIC1(K, L) = [tr(KL) + (1'K1)(1'L1) / ((n-1)(n-2)) - 2/(n-2) 1'KL1] / (n(n-3))
    CKA = sum_i HSIC1(K_i, L_i) / sqrt(sum_i HSIC1(K_i, K_i) * sum_i HSIC1(L_i, L_i)).

Everything after the Gram matrices is float64. HSIC1 is exactly invariant to subtracting one common
vector from every row of X (the Gram changes by u_i + u_j + c, which HSIC1 cancels), so the streaming
path centres each batch's features before the Gram: same estimator, far less cancellation.

Streaming (``MinibatchCKA``, ``cka_matrix``, ``cka_between``): forward hooks turn each chosen layer's
output into its (n, n) Gram matrix once per batch; the activations themselves are never kept, and one
batched call per batch fills the whole layer x layer HSIC matrix.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
from torch import nn

GRAM_PRECISIONS = ("float64", "float32")
_EMPTY_CONTAINERS = (nn.Sequential, nn.ModuleList, nn.ModuleDict)


def _check_n(n: int) -> None:
    if n <= 3:
        raise ValueError(f"unbiased HSIC needs a batch of at least 4 samples (n(n-3) > 0), got n={n}")


def _to_tensor(a) -> tuple[torch.Tensor, bool]:
    """(tensor, was_numpy)."""
    if isinstance(a, torch.Tensor):
        return a, False
    return torch.as_tensor(np.asarray(a)), True


# CPU path: NumPy, whose ``w @ w.T`` on one buffer calls BLAS syrk (half the flops of the general product
# torch uses), over column blocks of 4096: a (256, 4096) block stays in cache while it is centred and multiplied,
# where converting or centring a whole early-layer activation (256 x 65,536 floats) first is memory-bound. Exact:
# the same sums, regrouped. Measured single-threaded (CPU seconds) on the 61 layers of ResNet18 for one batch of
# 256: 2.2 s with blocks of 2048 and a float64 mean per block, 2.0 s with blocks of 4096 and the block's own mean.
CPU_BLOCK_COLUMNS = 4096


@functools.lru_cache(maxsize=1)
def _blas():
    """threadpoolctl's controller of the loaded BLAS libraries (NumPy's OpenBLAS), built once."""
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def blas_threads(n: int | None = None):
    """Context: NumPy's BLAS limited to ``n`` threads (default: torch's thread count, i.e. the notebook's
    ``torch_threads``). Without it OpenBLAS starts one thread per core whatever torch uses: on the shared 2 cores
    one (256, 65,536) float32 Gram took 1.24 s with the default threads vs 0.077 s with one (issue 25)."""
    return _blas().limit(limits=n or torch.get_num_threads(), user_api="blas")


@functools.lru_cache(maxsize=4)
def _gram_pool(workers: int) -> ThreadPoolExecutor:
    """Worker threads for the column ranges of a CPU Gram (NumPy releases the GIL in BLAS and ufunc loops)."""
    return ThreadPoolExecutor(max_workers=workers, thread_name_prefix="gram")


def _gram_columns(a: np.ndarray, start: int, stop: int, step: int, dtype, center: bool) -> np.ndarray:
    """float64 sum over the column blocks of a[:, start:stop] of each block's (centred) product w w^T."""
    n = a.shape[0]
    G = np.zeros((n, n), dtype=np.float64)
    for j in range(start, stop, step):
        b = a[:, j : min(j + step, stop)]
        if b.dtype == dtype:  # no conversion: centring makes the only copy, an uncentred block is used in place
            w = b - b.mean(axis=0) if center else b
        else:
            w = b.astype(dtype)
            if center:
                w -= w.mean(axis=0)
        G += w @ w.T  # one buffer, transposed: NumPy calls syrk
    return G


def gram_linear(
    X, *, center: bool = False, precision: str = "float64", block: int | None = -1, threads: int | None = None
):
    """Linear-kernel Gram matrix ``X X^T``.

    X: (n, d) array or tensor ((n, ...) is flattened to (n, d)) -> (n, n) float64, same kind as X
    (numpy in, numpy out). center: subtract the batch mean of each feature first (HSIC1 is exactly
    invariant to it, and to subtracting any other common vector, so the mean needs no extra precision; it
    avoids cancellation). precision: dtype of the matrix product, one of GRAM_PRECISIONS ("float32" is about
    twice as fast on CPU; its Gram entries carry ~1e-6 relative rounding).
    block: columns per block; the Gram is summed in float64 over column blocks of X, each converted and
    centred on its own (features are independent, so this is exact). -1 (default): CPU_BLOCK_COLUMNS on
    CPU, one block on GPU; None: one block. X itself is never modified.
    threads (CPU only; default torch's thread count, i.e. the notebook's ``torch_threads``): the column blocks
    are split into that many contiguous ranges, each run on its own thread with single-threaded BLAS
    (threadpoolctl) and summed in float64 in range order. Multi-threaded OpenBLAS syncs inside every call and
    spins when a core is taken: on the loaded shared machine one batch's 61 ResNet18 Grams took 77 s wall
    (26 s CPU) with 2 OpenBLAS threads vs 7 s wall (2.1 s CPU) with 2 ranges of single-threaded BLAS.
    """
    if precision not in GRAM_PRECISIONS:
        raise ValueError(f"precision must be one of {GRAM_PRECISIONS}, got {precision!r}")
    if threads is not None and threads < 1:
        raise ValueError(f"threads must be a positive thread count or None, got {threads!r}")
    t, was_numpy = _to_tensor(X)
    if t.ndim < 2:
        raise ValueError(f"X must have shape (n, d) or (n, ...), got shape {tuple(t.shape)}")
    flat = t.detach().reshape(t.shape[0], -1)
    n, d = flat.shape
    on_cpu = flat.device.type == "cpu"
    if block == -1:
        block = CPU_BLOCK_COLUMNS if on_cpu else None
    if block is not None and block < 1:
        raise ValueError(f"block must be a positive column count, None or -1, got {block!r}")
    step = max(d if block is None else block, 1)
    if on_cpu:  # numpy: syrk for w @ w.T
        a, dtype = flat.numpy(), np.dtype(precision)
        n_blocks = -(-d // step)
        workers = max(1, min(threads or torch.get_num_threads(), n_blocks))
        cuts = [(n_blocks * k // workers) * step for k in range(workers)] + [d]
        with blas_threads(1):
            if workers == 1:
                G = _gram_columns(a, 0, d, step, dtype, center)
            else:
                pool = _gram_pool(workers)
                parts = [
                    pool.submit(_gram_columns, a, cuts[k], cuts[k + 1], step, dtype, center) for k in range(workers)
                ]
                G = parts[0].result()
                for part in parts[1:]:
                    G += part.result()
        return G if was_numpy else torch.from_numpy(G)
    dtype = getattr(torch, precision)
    G = torch.zeros(n, n, dtype=torch.float64, device=flat.device)
    for j in range(0, d, step):
        w = flat[:, j : j + step].to(dtype, copy=True)
        if center:
            w -= w.mean(dim=0, keepdim=True)
        G += (w @ w.T).to(torch.float64)
    return G.numpy() if was_numpy else G


def _zero_diag(G: torch.Tensor) -> torch.Tensor:
    G = G.clone()
    G.diagonal(dim1=-2, dim2=-1).zero_()
    return G


def hsic1_matrix(G, H=None):
    """Unbiased HSIC1 between every pair of Gram matrices, in one batched product.

    G: (m, n, n) Gram matrices (e.g. one per layer, same batch); H: (p, n, n) or None (= G).
    Returns (m, p) float64 with entry [a, b] = HSIC1(G[a], H[b]) (numpy if G is numpy).
    Diagonals are zeroed on a copy; matrices need not be symmetric.
    """
    g, was_numpy = _to_tensor(G)
    h = g if H is None else _to_tensor(H)[0]
    if g.ndim != 3 or h.ndim != 3 or g.shape[1:] != h.shape[1:] or g.shape[1] != g.shape[2]:
        raise ValueError(f"G and H must be stacks of (n, n) matrices, got {tuple(g.shape)} and {tuple(h.shape)}")
    n = g.shape[-1]
    _check_n(n)
    K = _zero_diag(g.to(torch.float64))
    L = K if H is None else _zero_diag(h.to(device=g.device, dtype=torch.float64))
    # tr(K L) = sum_ij K_ij L_ji ; 1'K L 1 = (column sums of K) . (row sums of L)
    trace = K.reshape(K.shape[0], -1) @ L.transpose(1, 2).reshape(L.shape[0], -1).T
    k_sum, l_sum = K.sum(dim=(1, 2)), L.sum(dim=(1, 2))
    kl_sum = K.sum(dim=1) @ L.sum(dim=2).T
    out = (trace + torch.outer(k_sum, l_sum) / ((n - 1) * (n - 2)) - 2.0 / (n - 2) * kl_sum) / (n * (n - 3))
    return out.cpu().numpy() if was_numpy else out


def hsic1(K, L) -> float:
    """Unbiased HSIC1(K, L) of two (n, n) Gram matrices (diagonals zeroed on a copy), as a float."""
    k, _ = _to_tensor(K)
    l_, _ = _to_tensor(L)
    if k.ndim != 2 or k.shape != l_.shape or k.shape[0] != k.shape[1]:
        raise ValueError(f"K and L must be (n, n) of the same shape, got {tuple(k.shape)} and {tuple(l_.shape)}")
    return float(hsic1_matrix(k[None], l_[None])[0, 0])


def cka_from_hsic(hsic_xy, hsic_xx, hsic_yy) -> np.ndarray:
    """CKA from accumulated HSIC sums: (ma, mb), (ma,), (mb,) -> (ma, mb) float64.

    A layer whose self-HSIC is <= 0 (a constant layer) gives NaN in its row/column.
    """
    xy = np.asarray(hsic_xy, dtype=np.float64)
    xx = np.asarray(hsic_xx, dtype=np.float64)
    yy = np.asarray(hsic_yy, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        denom = np.sqrt(np.where(xx > 0, xx, np.nan))[:, None] * np.sqrt(np.where(yy > 0, yy, np.nan))[None, :]
        return xy / denom


def cka_minibatch(xs: Sequence, ys: Sequence, *, precision: str = "float64") -> float:
    """Mini-batch CKA of one pair of representations from lists of batches.

    xs[i]: (n_i, d1), ys[i]: (n_i, d2) activations of batch i (same samples in the same order).
    """
    if len(xs) != len(ys) or not xs:
        raise ValueError(f"xs and ys must be non-empty lists of equal length, got {len(xs)} and {len(ys)}")
    acc = MinibatchCKA(1, 1)
    for x, y in zip(xs, ys):
        acc.update(
            gram_linear(_to_tensor(x)[0], center=True, precision=precision)[None],
            gram_linear(_to_tensor(y)[0], center=True, precision=precision)[None],
        )
    return float(acc.result()[0, 0])


class MinibatchCKA:
    """Streaming accumulator of HSIC1 sums over mini-batches.

    MinibatchCKA(m) for one set of m layers (layer x layer); MinibatchCKA(ma, mb) for two sets.
    update(G) / update(GA, GB) with Gram stacks (m, n, n) [and (mb, n, n)] of one batch;
    result() -> (m, m) or (ma, mb) float64 CKA.
    """

    def __init__(self, m: int, mb: int | None = None):
        self.square = mb is None
        self.ma, self.mb = m, (m if mb is None else mb)
        self.hsic_xy = np.zeros((self.ma, self.mb))
        self.hsic_xx = np.zeros(self.ma)
        self.hsic_yy = np.zeros(self.mb)
        self.n_batches = 0
        self.n_samples = 0

    def update(self, GA, GB=None) -> None:
        """Add one batch: GA (ma, n, n) [, GB (mb, n, n)] Gram matrices of the same n samples."""
        ga = _to_tensor(GA)[0]
        if ga.ndim != 3 or ga.shape[0] != self.ma:
            raise ValueError(f"GA must have shape ({self.ma}, n, n), got {tuple(ga.shape)}")
        if self.square:
            if GB is not None:
                raise ValueError("this accumulator is square (one set of layers): pass only GA")
            hab = hsic1_matrix(ga)
            haa = hbb = hab.diagonal()
        else:
            gb = _to_tensor(GB)[0] if GB is not None else None
            if gb is None or gb.ndim != 3 or gb.shape[0] != self.mb:
                raise ValueError(f"GB must have shape ({self.mb}, n, n)")
            hab = hsic1_matrix(ga, gb)
            haa = _hsic1_self(ga)
            hbb = _hsic1_self(gb)
        self.hsic_xy += _np(hab)
        self.hsic_xx += _np(haa)
        self.hsic_yy += _np(hbb)
        self.n_batches += 1
        self.n_samples += ga.shape[-1]

    def result(self) -> np.ndarray:
        if self.n_batches == 0:
            raise ValueError("no batch was added")
        return cka_from_hsic(self.hsic_xy, self.hsic_xx, self.hsic_yy)


def _np(t) -> np.ndarray:
    return t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)


def _hsic1_self(G: torch.Tensor) -> torch.Tensor:
    """(m, n, n) -> (m,) HSIC1(G[a], G[a]) without forming the m x m matrix."""
    n = G.shape[-1]
    _check_n(n)
    K = _zero_diag(G.to(torch.float64))
    trace = (K * K.transpose(1, 2)).sum(dim=(1, 2))
    s = K.sum(dim=(1, 2))
    kl = (K.sum(dim=1) * K.sum(dim=2)).sum(dim=1)
    return (trace + s * s / ((n - 1) * (n - 2)) - 2.0 / (n - 2) * kl) / (n * (n - 3))


# ----------------------------------------------------------------------------------------- models
def leaf_layer_names(model: nn.Module) -> list[str]:
    """Names of the leaf modules (no children) in registration order: convs, norms, activations,
    pooling, dropout, FC. Empty containers (an identity ``nn.Sequential()`` shortcut) are not layers."""
    return [
        name
        for name, mod in model.named_modules()
        if name and not any(True for _ in mod.children()) and not isinstance(mod, _EMPTY_CONTAINERS)
    ]


class _GramHooks:
    """Forward hooks that replace each chosen layer's output by its (n, n) float64 Gram matrix."""

    def __init__(self, model: nn.Module, layers: Sequence[str] | None, precision: str):
        if precision not in GRAM_PRECISIONS:
            raise ValueError(f"precision must be one of {GRAM_PRECISIONS}, got {precision!r}")
        modules = dict(model.named_modules())
        names = leaf_layer_names(model) if layers is None else list(layers)
        missing = [n for n in names if n not in modules]
        if missing:
            raise ValueError(f"unknown layer names {missing[:5]}; see leaf_layer_names(model)")
        if not names or len(set(names)) != len(names):
            raise ValueError("layers must be a non-empty list of distinct module names")
        self.names, self.precision = names, precision
        self.grams: dict[str, torch.Tensor] = {}
        self.handles = [modules[n].register_forward_hook(self._hook(n)) for n in names]

    def _hook(self, name: str):
        def hook(_module, _inputs, output):
            if not isinstance(output, torch.Tensor):
                raise ValueError(f"layer {name!r} returned {type(output).__name__}, not a tensor")
            if name in self.grams:
                raise ValueError(f"layer {name!r} ran twice in one forward pass; hook distinct modules")
            self.grams[name] = gram_linear(output.detach(), center=True, precision=self.precision)

        return hook

    def pop(self) -> torch.Tensor:
        """(m, n, n) Grams of the last forward pass, in layer order; clears them."""
        missing = [n for n in self.names if n not in self.grams]
        if missing:
            raise ValueError(f"layers {missing[:5]} produced no output in the forward pass")
        G = torch.stack([self.grams[n] for n in self.names])
        self.grams = {}
        return G

    def remove(self) -> None:
        for h in self.handles:
            h.remove()


def _resolve_device(device) -> torch.device:
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def _inputs(batch) -> torch.Tensor:
    if isinstance(batch, (tuple, list)):
        batch = batch[0]
    if not isinstance(batch, torch.Tensor):
        raise ValueError(f"loader must yield tensors or (x, y, ...) tuples, got {type(batch).__name__}")
    return batch


def _stream(models: list[nn.Module], layer_lists: list, loader: Iterable, device, max_batches, precision):
    """Run every batch through each model and accumulate; returns (names per model, CKA)."""
    device = _resolve_device(device)
    if max_batches is not None and max_batches < 1:
        raise ValueError(f"max_batches must be >= 1 or None, got {max_batches!r}")
    hooks, modes = [], [m.training for m in models]
    try:
        for model, layers in zip(models, layer_lists):
            model.to(device).eval()
            hooks.append(_GramHooks(model, layers, precision))
        acc = MinibatchCKA(*[len(h.names) for h in hooks])
        with torch.no_grad():
            for i, batch in enumerate(loader):
                if max_batches is not None and i >= max_batches:
                    break
                x = _inputs(batch).to(device)
                _check_n(x.shape[0])
                grams = []
                for model, h in zip(models, hooks):
                    model(x)
                    grams.append(h.pop())
                acc.update(*grams)
        return [h.names for h in hooks], acc.result()
    finally:
        for h in hooks:
            h.remove()
        for model, mode in zip(models, modes):
            model.train(mode)


def cka_matrix(
    model: nn.Module,
    loader: Iterable,
    layers: Sequence[str] | None = None,
    device=None,
    max_batches: int | None = None,
    precision: str = "float64",
) -> tuple[list[str], np.ndarray]:
    """Layer x layer mini-batch CKA of one model: -> (names, (m, m) float64).

    loader yields x or (x, y, ...) with x: (n, ...) and n >= 4. layers: module names (default: all
    leaf layers, ``leaf_layer_names(model)``). device: default CUDA when available (the model is
    moved there). Runs in eval mode under no_grad; the model's train/eval mode is restored after.
    precision: dtype of each Gram product (GRAM_PRECISIONS); the HSIC sums are always float64.
    """
    names, cka = _stream([model], [layers], loader, device, max_batches, precision)
    return names[0], cka


def cka_between(
    model_a: nn.Module,
    model_b: nn.Module,
    loader: Iterable,
    layers_a: Sequence[str] | None = None,
    layers_b: Sequence[str] | None = None,
    device=None,
    max_batches: int | None = None,
    precision: str = "float64",
) -> tuple[list[str], list[str], np.ndarray]:
    """Mini-batch CKA between the layers of two models on the same batches: -> (names_a, names_b, (ma, mb))."""
    if model_a is model_b:
        names, cka = cka_matrix(model_a, loader, layers_a, device, max_batches, precision)
        if layers_b is not None and list(layers_b) != names:
            raise ValueError("same model passed twice: give layers_a only")
        return names, names, cka
    names, cka = _stream([model_a, model_b], [layers_a, layers_b], loader, device, max_batches, precision)
    return names[0], names[1], cka


# ------------------------------------------------------------------------------ bootstrap over probe images
def probe_grams(
    model: nn.Module, x, layers: Sequence[str] | None = None, device=None, precision: str = "float64"
) -> tuple[list[str], np.ndarray]:
    """Gram matrices of every chosen layer on a whole probe set in one forward pass.

    x: (N, ...) images (N >= 4) -> (names, (m, N, N) float64), each layer's features centred over the N images.
    The batches of a bootstrap replicate are rows and columns of these (``bootstrap_cka``): HSIC1 ignores the
    centring (module docstring), so batch b of a replicate gives the same HSIC1 as its own per-batch Gram.
    Eval mode under no_grad; the model's mode is restored.
    """
    device = _resolve_device(device)
    x = _inputs(x).to(device)
    _check_n(x.shape[0])
    mode = model.training
    model.to(device).eval()
    hooks = _GramHooks(model, layers, precision)
    try:
        with torch.no_grad():
            model(x)
        return hooks.names, _np(hooks.pop())
    finally:
        hooks.remove()
        model.train(mode)


def bootstrap_cka(G, indices, batch_size: int) -> np.ndarray:
    """Layer x layer mini-batch CKA of resampled probe sets, from the probe set's Gram matrices.

    G: (m, N, N) Grams of N probe images (``probe_grams``); indices: (B, N') integer image indices, one row per
    replicate (a bootstrap draw: N' = N, with replacement); replicate b takes images indices[b] in consecutive
    batches of ``batch_size`` (a last batch of fewer than 4 images is dropped, as in the streaming path) and
    accumulates HSIC1 over them -> (B, m, m) float64. With indices = arange(N) this is the streaming CKA of
    the probe set. An image drawn twice into one batch enters as two samples (their pair keeps its off-diagonal
    Gram entry), the usual reading of a bootstrap sample; it biases CKA slightly upwards, which the bootstrap
    mean minus the point estimate shows.
    """
    g = torch.as_tensor(np.asarray(G, dtype=np.float64))
    idx = np.asarray(indices)
    if g.ndim != 3 or g.shape[1] != g.shape[2]:
        raise ValueError(f"G must be a stack of (N, N) Gram matrices, got shape {tuple(g.shape)}")
    if idx.ndim != 2 or not np.issubdtype(idx.dtype, np.integer):
        raise ValueError(f"indices must be a (B, N') integer array, got shape {idx.shape} of {idx.dtype}")
    if idx.size and (idx.min() < 0 or idx.max() >= g.shape[1]):
        raise ValueError(f"indices must lie in [0, {g.shape[1]})")
    if batch_size < 4:
        raise ValueError(f"batch_size must be >= 4, got {batch_size}")
    out = np.empty((len(idx), g.shape[0], g.shape[0]))
    for b, row in enumerate(idx):
        acc = MinibatchCKA(g.shape[0])
        for j in range(0, len(row), batch_size):
            ii = torch.as_tensor(row[j : j + batch_size])
            if len(ii) >= 4:
                acc.update(g[:, ii[:, None], ii[None, :]])
        out[b] = acc.result()
    return out
