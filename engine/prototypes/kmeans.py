"""K-means in torch: k-means++ (greedy, seeded) then Lloyd iterations, chunked for bounded memory.

Why not sklearn: part prototypes cluster up to 64 x 4,096 x 7,680 SD features; sklearn needs a float32/64
copy of the whole pool on the CPU. Here the pool stays in its own dtype (float16 is fine) and on its own
device; only one chunk at a time is cast to float32, and centroid sums accumulate in float32.
Distances use ||x||^2 - 2 x c^T + ||c||^2 (one matmul per chunk), never an (N, k, D) tensor.
The stopping rule follows sklearn (tol relative to the mean per-feature variance, or labels unchanged),
so ``inertia`` is comparable with ``sklearn.cluster.KMeans(n_init=1)``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

# Bytes of float32 scratch per chunk (chunk of x cast to float32 + its distance block): big enough that the
# per-chunk matmuls run efficiently (64 MiB measured 1.5x faster than 16 MiB at D = 7,680), small enough to
# bound memory; casting into one reused buffer is several times faster than allocating per chunk.
_CHUNK_BYTES = 64 * 1024 * 1024
# Low-precision inputs up to this float32 size are cast once (faster than casting every pass); larger pools
# (e.g. 64 x 4,096 x 7,680 SD features) stay in their dtype and are cast chunk by chunk.
_FULL_CAST_BYTES = 512 * 1024 * 1024
# k-means++ seeding runs on a seeded random subsample of at most this many rows (Lloyd always uses every row).
# Greedy k-means++ makes one pass over its points per centre (k passes), against a handful of Lloyd passes,
# so on a 130,000-row pool it dominated the cost. 8,192 rows give >= 256 points per centre for k = 32, plenty
# for the D^2 sampling to find every mode a full-pool seeding would (inertia within 0.1% of sklearn's on the
# bench pools); pools no larger than this are seeded on every row, exactly as before.
INIT_SAMPLE = 8_192
# Relative size of float32 rounding noise in ||x||^2 - 2 x.c + ||c||^2 (sqrt(D) * eps for D ~ 1e3, with margin).
_NOISE = 1e-5


@dataclass
class KMeansResult:
    centroids: torch.Tensor  # (k', D) float32, k' <= k (fewer when there are fewer distinct points)
    labels: torch.Tensor  # (N,) int64
    inertia: float  # sum of squared distances of points to their centroid
    n_iter: int


class _Rows:
    """Iterates float32 views of consecutive row chunks of x, casting through one reused buffer."""

    def __init__(self, x: torch.Tensor, chunk: int) -> None:
        self.x, self.chunk = x, chunk
        self.buf = None if x.dtype == torch.float32 else torch.empty(chunk, x.shape[1], device=x.device)

    def __iter__(self):
        n = self.x.shape[0]
        for s in range(0, n, self.chunk):
            e = min(n, s + self.chunk)
            if self.buf is None:
                yield s, e, self.x[s:e]
            else:
                b = self.buf[: e - s]
                b.copy_(self.x[s:e])
                yield s, e, b


def _auto_chunk(n: int, d: int, k: int) -> int:
    per_row = 4 * (d + 2 * k + 4)
    return max(1, min(n, _CHUNK_BYTES // per_row))


def _sqdist(xc: torch.Tensor, xc_sq: torch.Tensor, c: torch.Tensor, c_sq: torch.Tensor) -> torch.Tensor:
    """Squared distances (n, k) of float32 rows to float32 centroids, clamped at 0."""
    d = torch.addmm(c_sq.unsqueeze(0), xc, c.t(), beta=1.0, alpha=-2.0)
    d.add_(xc_sq.unsqueeze(1))
    return d.clamp_min_(0.0)


def _sqdist_all(rows: _Rows, x_sq: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """(N, m) squared distances of every row to each of m centres (m is small: k-means++ trials)."""
    c_sq = (c * c).sum(1)
    out = torch.empty(x_sq.shape[0], c.shape[0], dtype=torch.float32, device=x_sq.device)
    for s, e, xc in rows:
        out[s:e] = _sqdist(xc, x_sq[s:e], c, c_sq)
    return out


def _sample(weights: torch.Tensor, n: int, gen: torch.Generator) -> torch.Tensor:
    """n indices drawn proportionally to weights (float64 cumsum; zero-weight rows are never drawn)."""
    cum = torch.cumsum(weights.double().cpu(), 0)
    total = cum[-1]
    r = torch.rand(n, generator=gen, dtype=torch.float64) * total
    idx = torch.searchsorted(cum, r, right=True)
    return idx.clamp_(max=weights.shape[0] - 1).to(weights.device)


def _kmeans_plusplus(x: torch.Tensor, rows: _Rows, x_sq: torch.Tensor, k: int, gen: torch.Generator) -> torch.Tensor:
    """Greedy k-means++ (sklearn's variant: 2 + log(k) candidates per step, keep the best).

    One pass over x per centre (all candidates at once). The expanded distance carries float32 rounding
    noise, so distances within ``_NOISE * ||x||^2`` count as 0: a point already chosen (or an exact
    duplicate of one) is never drawn again, and drawing stops once every point coincides with a centre
    (fewer distinct points than k gives fewer centres).
    """
    n = x.shape[0]
    trials = 2 + int(math.log(k))
    noise = (_NOISE * x_sq).clamp_min(1e-12)
    first = int(torch.randint(n, (1,), generator=gen).item())
    centers = [x[first].float()]
    pot = _sqdist_all(rows, x_sq, centers[0][None])[:, 0]
    pot = torch.where(pot <= noise, torch.zeros_like(pot), pot)
    for _ in range(1, k):
        if float(pot.sum()) <= 0.0:
            break
        cand = _sample(pot, trials, gen)
        cand_x = x[cand].float()
        d = torch.minimum(_sqdist_all(rows, x_sq, cand_x), pot.unsqueeze(1))
        d = torch.where(d <= noise.unsqueeze(1), torch.zeros_like(d), d)
        best = int(d.double().sum(0).argmin())
        centers.append(cand_x[best])
        pot = d[:, best].contiguous()
    return torch.stack(centers)


def kmeans(
    x: torch.Tensor,
    k: int,
    max_iter: int = 300,
    tol: float = 1e-4,
    seed: int = 0,
    chunk_size: int | None = None,
    init_sample: int = INIT_SAMPLE,
) -> KMeansResult:
    """Cluster the rows of ``x`` (N, D) into at most ``k`` clusters; deterministic for a given seed.

    With fewer distinct points than ``k`` the result has one centroid per distinct point.
    Empty clusters are re-seeded from the points farthest from their centroid (as sklearn does).
    ``init_sample`` bounds the rows k-means++ seeds from (see ``INIT_SAMPLE``).
    """
    if x.ndim != 2:
        raise ValueError(f"kmeans expects (N, D), got shape {tuple(x.shape)}")
    if k < 1:
        raise ValueError(f"kmeans needs k >= 1, got {k}")
    n, dim = x.shape
    if n == 0:
        raise ValueError("kmeans needs at least one point")
    if not x.is_floating_point() or (x.dtype != torch.float32 and n * dim * 4 <= _FULL_CAST_BYTES):
        x = x.float()
    dev = x.device
    chunk = chunk_size or _auto_chunk(n, dim, k)
    rows = _Rows(x, chunk)
    gen = torch.Generator(device="cpu")
    gen.manual_seed(seed)

    # One pass: squared norms (reused by every distance) and sklearn's tolerance,
    # tol * mean per-feature variance (accumulated in float64 for stability).
    # mean_j var_j = (sum_i ||x_i||^2 / n - ||mean||^2) / D: the squared norms give the second moment for free.
    x_sq = torch.empty(n, dtype=torch.float32, device=dev)
    s1 = torch.zeros(dim, dtype=torch.float64, device=dev)
    for s, e, xc in rows:
        torch.linalg.vector_norm(xc, dim=1, out=x_sq[s:e]).square_()
        s1 += xc.sum(0)  # float32 within a chunk, float64 across chunks
    mean = s1 / n
    var_mean = (float(x_sq.double().sum()) / n - float((mean * mean).sum())) / dim
    tol_abs = max(var_mean, 0.0) * tol

    if n <= init_sample:
        centers = _kmeans_plusplus(x, rows, x_sq, k, gen)
    else:
        idx = torch.randperm(n, generator=gen)[:init_sample].sort().values.to(dev)
        sub = x[idx]
        if sub.dtype != torch.float32 and sub.numel() * 4 <= _FULL_CAST_BYTES:
            sub = sub.float()
        sub_rows = _Rows(sub, _auto_chunk(sub.shape[0], dim, k))
        centers = _kmeans_plusplus(sub, sub_rows, x_sq[idx], k, gen)
        del sub, sub_rows
    kk = centers.shape[0]
    labels = torch.zeros(n, dtype=torch.int64, device=dev)
    prev = torch.full((n,), -1, dtype=torch.int64, device=dev)
    mind = torch.empty(n, dtype=torch.float32, device=dev)
    onehot = torch.empty(min(chunk, n), kk, dtype=torch.float32, device=dev)

    def step(c: torch.Tensor, sums: torch.Tensor | None) -> None:
        """E-step (labels, distances) and, if ``sums`` is given, the M-step sums in the same pass."""
        c_sq = (c * c).sum(1)
        for s, e, xc in rows:
            v, i = _sqdist(xc, x_sq[s:e], c, c_sq).min(1)
            mind[s:e] = v
            labels[s:e] = i
            if sums is not None:
                # Cluster sums as one (k, chunk) x (chunk, D) matmul: index_add_ over D-wide rows is
                # several times slower on CPU (it dominated Lloyd at D = 7,680).
                oh = onehot[: e - s].zero_()
                oh.scatter_(1, i.unsqueeze(1), 1.0)
                sums.addmm_(oh.t(), xc)

    n_iter = 0
    for it in range(max_iter):
        n_iter = it + 1
        sums = torch.zeros(kk, dim, dtype=torch.float32, device=dev)
        step(centers, sums)
        if torch.equal(labels, prev):
            break  # strict convergence: labels (and so centres) are fixed
        prev.copy_(labels)
        counts = torch.bincount(labels, minlength=kk).to(torch.float32)
        empty = (counts == 0).nonzero().flatten()
        if empty.numel():
            far = torch.argsort(mind, descending=True)[: empty.numel()]
            for ci, pi in zip(empty.tolist(), far.tolist()):
                p = x[pi].float()
                old = int(labels[pi])
                sums[old] -= p
                counts[old] -= 1
                sums[ci] = p
                counts[ci] = 1
        new_centers = sums / counts.clamp_min(1).unsqueeze(1)
        unused = counts == 0
        if unused.any():
            new_centers[unused] = centers[unused]
        shift = float(((new_centers - centers) ** 2).sum())
        centers = new_centers
        if shift <= tol_abs:
            step(centers, None)  # labels consistent with the final centres
            break
    else:
        step(centers, None)
    inertia = float(mind.double().sum())
    return KMeansResult(centroids=centers.float(), labels=labels, inertia=inertia, n_iter=n_iter)
