"""Pictures of a vector space: a labelled 2-D map of chosen words (PCA, or t-SNE
with scikit-learn) and a heatmap of their vectors.

Needs matplotlib (``pip install "fastseq[plot]"``); everything else is NumPy.
Labels are placed greedily, most important word first, at the first of several
spots around its point that overlaps no other label, point or the frame; a label
that fits nowhere is left out and the figure says how many were."""
from __future__ import annotations

import os

import numpy as np

from ._atomic import atomic_write

MARKER_SIZE = 14  # scatter marker area, points^2
INSTALL_HINT = 'plotting needs matplotlib: pip install "fastseq[plot]" (or pip install matplotlib)'


class MissingDependency(ImportError):
    """An optional dependency is not installed; the message says how to get it."""


def _matplotlib():
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise MissingDependency(INSTALL_HINT) from None
    return Figure, FigureCanvasAgg


def pca_2d(X):
    """First two principal components of the rows of X.

    Returns ``(coords (n, 2), explained)``: explained is the fraction of the variance
    each component carries. Signs are fixed (largest loading positive) so the same
    data always gives the same picture."""
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] < 2:
        raise ValueError(f"pca_2d: need at least 2 vectors, got shape {X.shape}")
    Xc = X - X.mean(axis=0)
    U, S, Vt = np.linalg.svd(Xc, full_matrices=False)
    k = min(2, len(S))
    for j in range(k):
        if Vt[j, np.argmax(np.abs(Vt[j]))] < 0:
            U[:, j], Vt[j] = -U[:, j], -Vt[j]
    coords = np.zeros((X.shape[0], 2))
    coords[:, :k] = U[:, :k] * S[:k]
    total = float((S ** 2).sum())
    explained = np.zeros(2)
    if total > 0:
        explained[:k] = S[:k] ** 2 / total
    return coords, explained


def tsne_2d(X, seed=0, perplexity=None):
    """t-SNE map (scikit-learn, cosine distances, PCA start) of the rows of X."""
    try:
        from sklearn.manifold import TSNE
    except ImportError:
        raise MissingDependency("--method tsne needs scikit-learn: pip install scikit-learn "
                                "(or use the default, --method pca)") from None
    X = np.asarray(X, dtype=np.float64)
    n = X.shape[0]
    if n < 4:
        raise ValueError(f"t-SNE needs at least 4 words, got {n}")
    if perplexity is None:
        perplexity = max(2.0, min(30.0, (n - 1) / 3.0))
    tsne = TSNE(n_components=2, perplexity=perplexity, init="pca", metric="cosine", random_state=seed)
    return tsne.fit_transform(X)


def _save(fig, canvas_cls, path, dpi):
    path = os.fspath(path)
    ext = os.path.splitext(path)[1].lower().lstrip(".") or "png"
    if ext not in ("png", "svg", "pdf"):
        raise ValueError(f"{path}: unknown picture type .{ext} (use .png, .svg or .pdf)")
    canvas_cls(fig)
    with atomic_write(path) as f:
        fig.savefig(f, format=ext, dpi=dpi)


def _overlaps(box, boxes):
    x0, y0, x1, y1 = box
    for a0, b0, a1, b1 in boxes:
        if x0 < a1 and a0 < x1 and y0 < b1 and b0 < y1:
            return True
    return False


def _place_labels(fig, ax, xy, labels, fontsize):
    """Add a label near each point where it overlaps nothing; returns {word: text artist}."""
    renderer = fig.canvas.get_renderer()
    to_px = ax.transData.transform
    frame = ax.get_window_extent(renderer)
    pts = to_px(xy)
    r = MARKER_SIZE ** 0.5 / 2 * fig.dpi / 72.0 + 1.5   # marker radius in pixels, with a little air
    taken = [(px - r, py - r, px + r, py + r) for px, py in pts]
    placed = {}
    gap = 3.0 * fig.dpi / 72.0
    for (px, py), text in zip(pts, labels):
        t = ax.annotate(text, xy=(px, py), xycoords="figure pixels", fontsize=fontsize,
                        annotation_clip=False)
        bb = t.get_window_extent(renderer)
        w, h = bb.width, bb.height
        spots = [(px + r + gap, py - h / 2), (px - r - gap - w, py - h / 2),
                 (px - w / 2, py + r + gap), (px - w / 2, py - r - gap - h),
                 (px + r, py + r), (px - r - w, py + r), (px + r, py - r - h), (px - r - w, py - r - h),
                 (px + r + 3 * gap, py + h), (px - r - 3 * gap - w, py + h),
                 (px + r + 3 * gap, py - 2 * h), (px - r - 3 * gap - w, py - 2 * h)]
        t.remove()
        for x0, y0 in spots:
            box = (x0, y0, x0 + w, y0 + h)
            inside = (box[0] >= frame.x0 + 2 and box[2] <= frame.x1 - 2 and
                      box[1] >= frame.y0 + 2 and box[3] <= frame.y1 - 2)
            if inside and not _overlaps(box, taken):
                taken.append(box)
                lx, ly = ax.transData.inverted().transform((x0, y0))
                placed[text] = ax.text(lx, ly, text, fontsize=fontsize, ha="left", va="bottom")
                break
    return placed


def plot_map(words, vectors, path, method="pca", title=None, seed=0, dpi=150):
    """Write a labelled 2-D map of ``words`` (rows of ``vectors``) to ``path``
    (.png, .svg or .pdf). Returns a dict with the method, the number of labels drawn,
    the 2-D coordinates, and each label's box and the axes frame in pixels."""
    Figure, Canvas = _matplotlib()
    words = list(words)
    vectors = np.asarray(vectors, dtype=np.float64)
    if len(words) != len(vectors):
        raise ValueError(f"{len(words)} words but {len(vectors)} vectors")
    if len(words) < 3:
        raise ValueError(f"a map needs at least 3 words, got {len(words)}")
    if method == "pca":
        xy, explained = pca_2d(vectors)
        xlabel = f"PC1 ({100 * explained[0]:.0f}% of variance)"
        ylabel = f"PC2 ({100 * explained[1]:.0f}% of variance)"
    elif method == "tsne":
        xy = tsne_2d(vectors, seed=seed)
        xlabel, ylabel = "t-SNE 1", "t-SNE 2"
    else:
        raise ValueError(f"method must be 'pca' or 'tsne', got {method!r}")
    n = len(words)
    side = 8.0 if n <= 60 else (10.0 if n <= 200 else 12.0)
    fontsize = 10 if n <= 40 else (8 if n <= 150 else 7)
    fig = Figure(figsize=(side * 1.25, side), dpi=dpi, layout="constrained")
    Canvas(fig)
    ax = fig.add_subplot()
    ax.scatter(xy[:, 0], xy[:, 1], s=MARKER_SIZE, color="#1f77b4", zorder=3)
    # room around the points so edge labels fit inside the frame
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    span = np.where(hi - lo > 0, hi - lo, 1.0)
    ax.set_xlim(lo[0] - 0.15 * span[0], hi[0] + 0.15 * span[0])
    ax.set_ylim(lo[1] - 0.08 * span[1], hi[1] + 0.08 * span[1])
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, color="#dddddd", linewidth=0.6, zorder=0)
    ax.set_title(title or f"{n} word vectors, {'PCA' if method == 'pca' else 't-SNE'}")
    fig.canvas.draw()  # fixes the layout, so label boxes are measured where they end up
    labels = _place_labels(fig, ax, xy, words, fontsize)
    shown = len(labels)
    if shown < n:
        fig.text(0.99, 0.005, f"{n - shown} of {n} labels left out to avoid overlap",
                 ha="right", va="bottom", fontsize=8, color="#666666")
    _save(fig, Canvas, path, dpi)
    # where the labels and the frame ended up in the picture (pixels), for checking
    renderer = fig.canvas.get_renderer()
    boxes = {w: tuple(t.get_window_extent(renderer).extents) for w, t in labels.items()}
    frame = tuple(ax.get_window_extent(renderer).extents)
    return {"method": method, "labels": shown, "words": n, "coords": xy, "label_boxes": boxes, "frame": frame}


def plot_heatmap(words, vectors, path, title=None, dpi=150, max_words=200):
    """Write the vectors of ``words`` as rows of a colour map (blue negative, red
    positive, white zero) to ``path``."""
    Figure, Canvas = _matplotlib()
    words = list(words)
    M = np.asarray(vectors, dtype=np.float64)
    if len(words) != len(M):
        raise ValueError(f"{len(words)} words but {len(M)} vectors")
    if not words:
        raise ValueError("a heatmap needs at least 1 word")
    if len(words) > max_words:
        raise ValueError(f"a heatmap shows at most {max_words} words (rows stay readable); got {len(words)}")
    n, dim = M.shape
    row_in = 0.22
    fig = Figure(figsize=(min(16.0, 6.0 + dim / 40.0), max(3.0, 1.6 + row_in * n)), dpi=dpi,
                 layout="constrained")
    Canvas(fig)
    ax = fig.add_subplot()
    a = float(np.percentile(np.abs(M), 99)) or 1.0
    im = ax.imshow(M, aspect="auto", cmap="RdBu_r", vmin=-a, vmax=a, interpolation="nearest")
    ax.set_yticks(range(n))
    ax.set_yticklabels(words, fontsize=9 if n <= 60 else 7)
    ax.set_xlabel("dimension")
    ax.set_title(title or f"{n} word vectors ({dim} dimensions)")
    cb = fig.colorbar(im, ax=ax, shrink=min(1.0, 6.0 / max(3.0, 1.6 + row_in * n)) if n > 30 else 1.0)
    cb.set_label("value")
    _save(fig, Canvas, path, dpi)
    return {"words": n, "dim": dim}
