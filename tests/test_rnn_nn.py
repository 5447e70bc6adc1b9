"""fastseq.nn beyond the recurrent kernels: Embedding, Linear, Dropout, loss,
Sequential, optimisers, clipping, schedules, save/load and bad input."""
import json

import numpy as np
import pytest

import fastseq
from fastseq import nn
from fastseq.nn import optim
from reference_rnn import numeric_grad, rel_err


# ---------------------------------------------------------------- layers
def test_linear_gradients_match_finite_differences():
    rng = np.random.default_rng(0)
    lin = nn.Linear(4, 3, dtype=np.float64, seed=1)
    x = rng.standard_normal((2, 5, 4))
    go = rng.standard_normal((2, 5, 3))
    lin.forward(x)
    gx = lin.backward(go)
    f = lambda: (lin.forward(x) * go).sum()  # noqa: E731
    for arr, grad in ((x, gx), (lin.weight.data, lin.weight.grad), (lin.bias.data, lin.bias.grad)):
        for idx in list(np.ndindex(arr.shape))[:10]:
            assert abs(numeric_grad(f, arr, idx) - grad[idx]) < 1e-7


def test_embedding_lookup_and_sparse_rows():
    emb = nn.Embedding(10, 3, padding_idx=0, seed=0)
    assert not emb.weight.data[0].any()
    ids = np.array([[1, 2, 1], [0, 5, 1]])
    out = emb.forward(ids)
    assert np.array_equal(out, emb.weight.data[ids])
    g = np.ones((2, 3, 3), np.float32)
    assert emb.backward(g) is None
    expected = np.zeros((10, 3), np.float32)
    expected[1] = 3
    expected[2] = 1
    expected[5] = 1  # the padding row (0) gets nothing
    assert np.array_equal(emb.weight.grad, expected)
    assert list(emb.weight.rows) == [1, 2, 5]
    opt = optim.SGD(emb.parameters(), lr=0.1)
    before = emb.weight.data.copy()
    opt.step()
    changed = np.flatnonzero((emb.weight.data != before).any(axis=1))
    assert list(changed) == [1, 2, 5]
    emb.zero_grad()
    assert not emb.weight.grad.any() and emb.weight.rows is None


def test_embedding_from_keyed_vectors():
    kv = fastseq.KeyedVectors(["a", "b", "c"], np.arange(6, dtype=np.float32).reshape(3, 2))
    emb = nn.Embedding.from_vectors(kv, freeze=True)
    assert emb.key_to_index["b"] == 1
    assert np.array_equal(emb.forward([2]), kv.vectors[[2]])
    emb.forward(np.array([1]))
    emb.backward(np.ones((1, 2), np.float32))
    assert not emb.weight.grad.any()
    assert emb.weight.data is not kv.vectors
    trainable = nn.Embedding.from_vectors(kv)
    trainable.forward(np.array([1]))
    trainable.backward(np.ones((1, 2), np.float32))
    assert trainable.weight.grad[1].tolist() == [1, 1]


def test_dropout_module():
    d = nn.Dropout(0.5, seed=0)
    x = np.ones((100, 100), np.float32)
    y = d.forward(x)
    assert set(np.unique(y)) == {0.0, 2.0}
    assert np.array_equal(d.backward(x), y)
    d.eval()
    assert np.array_equal(d.forward(x), x)


def test_sequential_chains_forward_and_backward():
    rng = np.random.default_rng(1)
    model = nn.Sequential(nn.Embedding(20, 6, seed=0), nn.LSTM(6, 8, batch_first=True, seed=1),
                          nn.Linear(8, 5, seed=2))
    ids = rng.integers(0, 20, (3, 7))
    logits = model.forward(ids, lengths=[7, 4, 2])
    assert logits.shape == (3, 7, 5)
    assert len(model.states) == 1
    loss_fn = nn.CrossEntropyLoss()
    target = rng.integers(0, 5, (3, 7))
    loss = loss_fn.forward(logits, target)
    g = model.backward(loss_fn.backward())
    assert g is None  # the embedding is the first module
    names = [n for n, _ in model.named_parameters()]
    assert names[:2] == ["0.weight", "1.weight_ih_l0"]
    assert all(p.grad.any() for p in model.parameters())
    assert np.isfinite(loss)


# ---------------------------------------------------------------- against torch
def _torch():
    return pytest.importorskip("torch")


def test_cross_entropy_matches_torch():
    torch = _torch()
    rng = np.random.default_rng(2)
    logits = rng.standard_normal((4, 6, 7)).astype(np.float32) * 3
    target = rng.integers(0, 7, (4, 6))
    target[0, :2] = -100
    for reduction in ("mean", "sum", "none"):
        ce = nn.CrossEntropyLoss(reduction=reduction)
        loss = ce.forward(logits, target)
        lt = torch.tensor(logits, requires_grad=True)
        ref = torch.nn.functional.cross_entropy(lt.reshape(-1, 7), torch.tensor(target).reshape(-1),
                                                reduction=reduction)
        if reduction == "none":
            ref = ref.reshape(4, 6)
            assert rel_err(loss, ref.detach().numpy()) < 1e-5
            w = rng.standard_normal((4, 6)).astype(np.float32)
            g = ce.backward(w)
            (ref * torch.from_numpy(w)).sum().backward()
        else:
            assert abs(loss - ref.item()) <= 1e-5 * abs(ref.item())
            g = ce.backward()
            ref.backward()
        assert rel_err(g, lt.grad.numpy()) < 1e-5
    # a mask equals ignore_index on the masked positions
    mask = target != -100
    ce = nn.CrossEntropyLoss(ignore_index=-1)
    t2 = np.where(mask, target, 3)
    assert abs(ce.forward(logits, t2, mask=mask) - nn.CrossEntropyLoss().forward(logits, target)) < 1e-6


@pytest.mark.parametrize("probs", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("smoothing", [0.0, 0.25])
def test_cross_entropy_weight_smoothing_and_probabilities_match_torch(probs, weighted, smoothing):
    torch = _torch()
    rng = np.random.default_rng(5)
    logits = rng.standard_normal((9, 5)) * 2
    if probs:
        target = rng.dirichlet(np.ones(5), 9)
    else:
        target = rng.integers(0, 5, 9)
        target[[1, 4]] = -100
    weight = rng.uniform(0.2, 3.0, 5) if weighted else None
    for reduction in ("mean", "sum", "none"):
        ce = nn.CrossEntropyLoss(weight=weight, reduction=reduction, label_smoothing=smoothing)
        loss = ce.forward(logits, target)
        lt = torch.tensor(logits, requires_grad=True)
        ref = torch.nn.functional.cross_entropy(
            lt, torch.tensor(target), weight=None if weight is None else torch.tensor(weight),
            reduction=reduction, label_smoothing=smoothing)
        gout = rng.standard_normal(9) if reduction == "none" else 1.0
        g = ce.backward(gout)
        (ref * torch.tensor(gout)).sum().backward()
        assert rel_err(np.asarray(loss), ref.detach().numpy()) < 1e-12
        assert rel_err(g, lt.grad.numpy()) < 1e-12
    # float32 logits: equal to float32 rounding, and a float32 gradient
    ce = nn.CrossEntropyLoss(weight=weight, label_smoothing=smoothing)
    exact = ce.forward(logits, target)
    g64 = ce.backward()
    assert abs(ce.forward(logits.astype(np.float32), target) - exact) < 1e-5 * abs(exact)
    g32 = ce.backward()
    assert g32.dtype == np.float32 and rel_err(g32, g64) < 1e-5


def test_cross_entropy_gradient_with_mask_weight_and_smoothing_is_the_finite_difference():
    rng = np.random.default_rng(6)
    logits = rng.standard_normal((3, 4, 6))
    target = rng.integers(0, 6, (3, 4))
    target[0, 0] = -100
    mask = rng.uniform(0, 2, (3, 4))
    mask[2, 1] = 0
    for probs in (False, True):
        tgt = rng.dirichlet(np.ones(6), (3, 4)) if probs else target
        ce = nn.CrossEntropyLoss(weight=rng.uniform(0.5, 2, 6), label_smoothing=0.1)
        ce.forward(logits, tgt, mask=mask)
        g = ce.backward()
        num = np.zeros_like(logits)
        for i in np.ndindex(logits.shape):
            d = np.zeros_like(logits)
            d[i] = 1e-6
            num[i] = (ce.forward(logits + d, tgt, mask) - ce.forward(logits - d, tgt, mask)) / 2e-6
        assert np.abs(g - num).max() < 1e-8
        assert np.all(g[2, 1] == 0)  # a masked position gets no gradient


def test_cross_entropy_bad_weight_smoothing_and_probability_targets():
    z = np.zeros((2, 3))
    with pytest.raises(ValueError, match="weight: expected one weight per class \\(3\\)"):
        nn.CrossEntropyLoss(weight=np.ones(4)).forward(z, np.array([0, 1]))
    with pytest.raises(ValueError, match="weight: contains NaN"):
        nn.CrossEntropyLoss(weight=np.array([1.0, np.nan, 1.0]))
    with pytest.raises(ValueError, match="label_smoothing: expected a probability"):
        nn.CrossEntropyLoss(label_smoothing=1.5)
    with pytest.raises(ValueError, match="target: class probabilities must have the logits' shape"):
        nn.CrossEntropyLoss().forward(z, np.ones((2, 4)) / 4)
    with pytest.raises(ValueError, match="target: contains NaN"):
        nn.CrossEntropyLoss().forward(z, np.full((2, 3), np.nan))
    with pytest.raises(TypeError):  # torch's order: weight first, the rest by name
        nn.CrossEntropyLoss(None, -1)


def test_cross_entropy_takes_minus_infinity_logits_as_torch():
    torch = _torch()
    z = np.array([[-np.inf, 0.5, 1.0], [2.0, -np.inf, -1.0]])
    t = np.array([2, 0])
    for smoothing in (0.0, 0.1):
        ce = nn.CrossEntropyLoss(label_smoothing=smoothing)
        lt = torch.tensor(z, requires_grad=True)
        ref = torch.nn.functional.cross_entropy(lt, torch.tensor(t), label_smoothing=smoothing)
        ref.backward()
        assert ce.forward(z, t) == pytest.approx(ref.item(), rel=1e-12)
        assert rel_err(ce.backward(), lt.grad.numpy()) < 1e-12
    for bad in (np.nan, np.inf):
        with pytest.raises(ValueError, match="logits: contains NaN or \\+infinity"):
            nn.CrossEntropyLoss().forward(np.array([[bad, 0.0]]), np.array([1]))
    with pytest.raises(ValueError, match="ignore_index=0: does not apply to class-probability"):
        nn.CrossEntropyLoss(ignore_index=0).forward(np.zeros((2, 3)), np.full((2, 3), 1 / 3))
    with pytest.raises(ValueError, match="np.moveaxis"):  # PyTorch's (N, C, T) layout
        nn.CrossEntropyLoss().forward(np.zeros((4, 5, 7)), np.zeros((4, 7), int))


def test_torch_tensors_that_require_grad_are_read_everywhere():
    torch = _torch()
    x = torch.ones(2, 3, requires_grad=True)
    assert np.array_equal(nn.Dropout(0.5).eval().forward(x), np.ones((2, 3)))
    assert nn.Dropout(0.5, seed=0).forward(x).shape == (2, 3)
    p = nn.Parameter(torch.nn.Parameter(torch.full((3,), 2.0)))
    assert p.data.tolist() == [2.0, 2.0, 2.0]


def test_cross_entropy_settings_survive_save_and_load(tmp_path):
    ce = nn.CrossEntropyLoss(weight=np.array([1.0, 2.0, 0.5]), ignore_index=-1, label_smoothing=0.1)
    nn.save({"loss": ce}, tmp_path / "m.npz")
    meta, _ = nn.serialization._read(str(tmp_path / "m.npz"))
    assert meta["objects"]["loss"]["config"] == ce.config()
    nn.load(tmp_path / "m.npz", {"loss": nn.CrossEntropyLoss()})  # loss settings are free


def _train(make_opt, make_topt, steps=5, sched=None, tsched=None, clip=None):
    torch = _torch()
    rng = np.random.default_rng(3)
    m = nn.GRU(4, 6, seed=0)
    lin = nn.Linear(6, 3, seed=1)
    t = torch.nn.GRU(4, 6)
    tl = torch.nn.Linear(6, 3)
    t.load_state_dict({k: torch.from_numpy(v) for k, v in m.state_dict().items()})
    tl.load_state_dict({k: torch.from_numpy(v) for k, v in lin.state_dict().items()})
    params = list(m.parameters()) + list(lin.parameters())
    opt = make_opt(params)
    topt = make_topt(list(t.parameters()) + list(tl.parameters()))
    s = sched(opt) if sched else None
    ts = tsched(topt) if tsched else None
    ce = nn.CrossEntropyLoss()
    for step in range(steps):
        x = rng.standard_normal((5, 2, 4)).astype(np.float32)
        y = rng.integers(0, 3, (5, 2))
        opt.zero_grad()
        out, _ = m.forward(x)
        loss = ce.forward(lin.forward(out), y)
        m.backward(lin.backward(ce.backward()))
        topt.zero_grad()
        tout, _ = t(torch.from_numpy(x))
        tloss = torch.nn.functional.cross_entropy(tl(tout).reshape(-1, 3), torch.from_numpy(y).reshape(-1))
        tloss.backward()
        if clip:
            n1 = clip(params, nn)
            n2 = clip(list(t.parameters()) + list(tl.parameters()), torch.nn.utils)
            if n1 is not None:
                assert abs(n1 - float(n2)) < 1e-4 * abs(float(n2))
        opt.step()
        topt.step()
        if s:
            s.step(loss) if isinstance(s, optim.ReduceLROnPlateau) else s.step()
            ts.step(tloss.item()) if isinstance(s, optim.ReduceLROnPlateau) else ts.step()
            assert abs(opt.param_groups[0]["lr"] - topt.param_groups[0]["lr"]) < 1e-12
    sd = t.state_dict()
    for k, v in m.state_dict().items():
        assert rel_err(v, sd[k].numpy()) < 1e-4, k
    return m


@pytest.mark.parametrize("kind", ["sgd", "momentum", "nesterov", "adam", "adamw", "adam_l2", "amsgrad",
                                  "sgd_maximize", "adam_maximize", "adamw_maximize",
                                  "adam_decoupled", "impl_flags"])
def test_optimizers_match_torch(kind):
    torch = _torch()
    cfg = {
        "sgd_maximize": (optim.SGD, torch.optim.SGD, dict(lr=0.1, momentum=0.9, nesterov=True,
                                                          weight_decay=0.01, maximize=True)),
        "adam_maximize": (optim.Adam, torch.optim.Adam, dict(lr=0.05, weight_decay=0.1, amsgrad=True,
                                                             maximize=True)),
        "adamw_maximize": (optim.AdamW, torch.optim.AdamW, dict(lr=0.05, weight_decay=0.1, maximize=True)),
        "adam_decoupled": (optim.Adam, torch.optim.Adam, dict(lr=0.05, weight_decay=0.1,
                                                              decoupled_weight_decay=True)),
        "impl_flags": (optim.Adam, torch.optim.Adam, dict(lr=0.05, foreach=False, fused=None,
                                                          capturable=False, differentiable=False)),
        "sgd": (optim.SGD, torch.optim.SGD, dict(lr=0.5)),
        "momentum": (optim.SGD, torch.optim.SGD, dict(lr=0.3, momentum=0.9, dampening=0.1, weight_decay=0.01)),
        "nesterov": (optim.SGD, torch.optim.SGD, dict(lr=0.3, momentum=0.9, nesterov=True)),
        "adam": (optim.Adam, torch.optim.Adam, dict(lr=0.05)),
        "adamw": (optim.AdamW, torch.optim.AdamW, dict(lr=0.05, weight_decay=0.1)),
        "adam_l2": (optim.Adam, torch.optim.Adam, dict(lr=0.05, weight_decay=0.1)),
        "amsgrad": (optim.Adam, torch.optim.Adam, dict(lr=0.05, amsgrad=True)),
    }[kind]
    ours, theirs, kw = cfg
    _train(lambda p: ours(p, **kw), lambda p: theirs(p, **kw))


def test_clipping_matches_torch():
    torch = _torch()
    _train(lambda p: optim.SGD(p, lr=0.5), lambda p: torch.optim.SGD(p, lr=0.5),
           clip=lambda ps, mod: mod.clip_grad_norm_(ps, 0.05))
    _train(lambda p: optim.SGD(p, lr=0.5), lambda p: torch.optim.SGD(p, lr=0.5),
           clip=lambda ps, mod: mod.clip_grad_norm_(ps, 0.05, norm_type=float("inf")))
    _train(lambda p: optim.SGD(p, lr=0.5), lambda p: torch.optim.SGD(p, lr=0.5),
           clip=lambda ps, mod: mod.clip_grad_value_(ps, 0.01))


@pytest.mark.parametrize("kind", ["step", "exp", "plateau"])
def test_schedules_match_torch(kind):
    torch = _torch()
    ours, theirs, kw = {
        "step": (optim.StepLR, torch.optim.lr_scheduler.StepLR, dict(step_size=2, gamma=0.5)),
        "exp": (optim.ExponentialLR, torch.optim.lr_scheduler.ExponentialLR, dict(gamma=0.7)),
        "plateau": (optim.ReduceLROnPlateau, torch.optim.lr_scheduler.ReduceLROnPlateau,
                    dict(patience=0, factor=0.5, threshold=0.5)),
    }[kind]
    _train(lambda p: optim.SGD(p, lr=0.5), lambda p: torch.optim.SGD(p, lr=0.5), steps=6,
           sched=lambda o: ours(o, **kw), tsched=lambda o: theirs(o, **kw))


def test_plateau_reduces_after_patience():
    p = nn.Parameter(np.zeros(3, np.float32))
    opt = optim.SGD([p], lr=1.0)
    s = optim.ReduceLROnPlateau(opt, patience=2, factor=0.5)
    for loss in (1.0, 1.0, 1.0):
        s.step(loss)
    assert opt.param_groups[0]["lr"] == 1.0
    s.step(1.0)
    assert opt.param_groups[0]["lr"] == 0.5


def test_state_dict_accepts_torch_tensors():
    torch = _torch()
    t = torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    m = nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    m.load_state_dict(t.state_dict())
    for k, v in t.state_dict().items():
        assert np.array_equal(m.state_dict()[k], v.numpy())


# ---------------------------------------------------------------- save / load
def test_save_load_round_trip(tmp_path):
    rng = np.random.default_rng(4)
    emb, lstm, lin = nn.Embedding(12, 4, seed=0), nn.LSTM(4, 5, num_layers=2, seed=1), nn.Linear(5, 3, seed=2)
    opt = optim.Adam(list(emb.parameters()) + list(lstm.parameters()) + list(lin.parameters()), lr=0.01)
    ids = rng.integers(0, 12, (6, 2))
    out, _ = lstm.forward(emb.forward(ids))
    logits = lin.forward(out)
    emb.backward(lstm.backward(lin.backward(np.ones_like(logits)))[0])
    opt.step()
    path = tmp_path / "model.npz"
    nn.save({"emb": emb, "lstm": lstm, "lin": lin, "opt": opt}, path)
    emb2, lstm2, lin2 = nn.Embedding(12, 4, seed=9), nn.LSTM(4, 5, num_layers=2, seed=9), nn.Linear(5, 3, seed=9)
    opt2 = optim.Adam(list(emb2.parameters()) + list(lstm2.parameters()) + list(lin2.parameters()), lr=0.5)
    nn.load(path, {"emb": emb2, "lstm": lstm2, "lin": lin2, "opt": opt2})
    for a, b in ((emb, emb2), (lstm, lstm2), (lin, lin2)):
        for (k, v), (k2, v2) in zip(a.state_dict().items(), b.state_dict().items()):
            assert k == k2 and np.array_equal(v, v2)
    assert opt2.param_groups[0]["lr"] == 0.01
    s1, s2 = opt.state_dict()["state"], opt2.state_dict()["state"]
    assert s1.keys() == s2.keys()
    for i in s1:
        assert s1[i]["step"] == s2[i]["step"]
        assert np.array_equal(s1[i]["exp_avg"], s2[i]["exp_avg"])
    with pytest.raises(ValueError, match="lstm"):
        nn.load(path, {"emb": emb2, "lstm": nn.LSTM(4, 6, num_layers=2), "lin": lin2, "opt": opt2})
    with pytest.raises(ValueError, match="GRU"):
        nn.load(path, {"emb": emb2, "lstm": nn.GRU(4, 5, num_layers=2), "lin": lin2, "opt": opt2})
    single = tmp_path / "one.npz"
    nn.save(lin, single)
    lin3 = nn.Linear(5, 3)
    nn.load(single, lin3)
    assert np.array_equal(lin3.weight.data, lin.weight.data)


def test_save_keeps_the_vocabulary_of_from_vectors(tmp_path):
    kv = fastseq.KeyedVectors(["the", "cat", "sat"], np.arange(6, dtype=np.float32).reshape(3, 2))
    model = nn.Sequential(nn.Embedding.from_vectors(kv), nn.Linear(2, 2, seed=0))
    path = tmp_path / "m.npz"
    nn.save({"model": model}, path)
    fresh = nn.Sequential(nn.Embedding(3, 2), nn.Linear(2, 2))
    assert fresh[0].index_to_key is None
    nn.load(path, {"model": fresh})
    assert fresh[0].index_to_key == ["the", "cat", "sat"]
    assert fresh[0].key_to_index == {"the": 0, "cat": 1, "sat": 2}
    assert np.array_equal(fresh[0].weight.data[fresh[0].key_to_index["sat"]], [4, 5])
    # a file whose vocabulary does not fit is refused before anything changes
    meta, arrays = nn.serialization._read(str(path))
    meta["objects"]["model"]["extra_state"]["0"]["index_to_key"] = ["the", "cat"]
    arrays["__meta__"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    np.savez(tmp_path / "bad.npz", **arrays)
    other = nn.Sequential(nn.Embedding(3, 2, seed=1), nn.Linear(2, 2))
    before = other[0].weight.data.copy()
    with pytest.raises(ValueError, match=r"bad.npz: 'model': 0: expected a vocabulary of 3 str or int keys"):
        nn.load(tmp_path / "bad.npz", {"model": other})
    assert np.array_equal(other[0].weight.data, before) and other[0].index_to_key is None
    emb = nn.Embedding.from_vectors(np.zeros((2, 2), np.float32))
    emb.index_to_key = [("a", 1), ("b", 2)]  # JSON would give lists back
    with pytest.raises(ValueError, match=r"cannot save the key \('a', 1\) \(tuple\)"):
        nn.save(emb, tmp_path / "t.npz")
    assert not (tmp_path / "t.npz").exists()


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize("cls", [nn.LSTM, nn.GRU, nn.RNN])
def test_bad_input_raises_value_error_naming_the_argument(cls):
    m = cls(3, 4, num_layers=2)
    x = np.zeros((5, 2, 3), np.float32)
    cases = [
        (dict(x=np.zeros((5, 2, 4), np.float32)), "x"),
        (dict(x=np.zeros((5, 2, 3), np.int64)), "x"),
        (dict(x=np.zeros((5,), np.float32)), "x"),
        (dict(x=np.full((5, 2, 3), np.nan, np.float32)), "x"),
        (dict(x=x, lengths=[5, 6]), "lengths"),
        (dict(x=x, lengths=[0, 5]), "lengths"),
        (dict(x=x, lengths=[5]), "lengths"),
        (dict(x=x, lengths=[1.5, 2]), "lengths"),
    ]
    if cls is nn.LSTM:
        cases += [(dict(x=x, hx=np.zeros((2, 2, 4), np.float32)), "hx"),
                  (dict(x=x, hx=(np.zeros((2, 2, 4), np.float32), np.zeros((2, 3, 4), np.float32))), "c0"),
                  (dict(x=x, hx=(np.zeros((2, 2, 4), np.float32), np.full((2, 2, 4), np.inf, np.float32))), "c0")]
    else:
        cases += [(dict(x=x, hx=np.zeros((1, 2, 4), np.float32)), "hx"),
                  (dict(x=x, hx=np.zeros((2, 2, 4), np.int32)), "hx")]
    for kw, name in cases:
        with pytest.raises(ValueError, match=name):
            m.forward(**kw)
    out, _ = m.forward(x)
    with pytest.raises(ValueError, match="grad_output"):
        m.backward(np.zeros((5, 2, 5), np.float32))
    with pytest.raises(ValueError, match="grad_h_n"):
        m.backward(np.zeros_like(out), np.zeros((2, 2, 5), np.float32))


def test_bad_constructor_arguments():
    for kw, name in ((dict(input_size=0, hidden_size=3), "input_size"),
                     (dict(input_size=2, hidden_size=-1), "hidden_size"),
                     (dict(input_size=2, hidden_size=3, dropout=2), "dropout"),
                     (dict(input_size=2, hidden_size=3, num_layers=0), "num_layers"),
                     (dict(input_size=2, hidden_size=3, dtype=np.int32), "dtype")):
        with pytest.raises(ValueError, match=name):
            nn.LSTM(**kw)
    with pytest.raises(ValueError, match="nonlinearity"):
        nn.RNN(2, 3, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="ids"):
        nn.Embedding(5, 2).forward([5])
    with pytest.raises(ValueError, match="target"):
        nn.CrossEntropyLoss().forward(np.zeros((2, 3), np.float32), np.array([0, 3]))
    with pytest.raises(ValueError, match="state_dict"):
        nn.Linear(2, 3).load_state_dict({"weight": np.zeros((3, 3)), "bias": np.zeros(3)})


def test_backward_needs_a_forward():
    m = nn.GRU(2, 3)
    with nn.inference_mode():
        m.forward(np.zeros((2, 1, 2), np.float32))
    with pytest.raises(RuntimeError, match="inference_mode"):
        m.backward(np.zeros((2, 1, 3), np.float32))


def test_inference_mode_gives_the_same_output():
    m = nn.LSTM(5, 9, bidirectional=True, seed=0)
    x = np.random.default_rng(5).standard_normal((6, 3, 5)).astype(np.float32)
    out, (h, c) = m.forward(x, lengths=[6, 2, 4])
    with nn.inference_mode():
        out2, (h2, c2) = m.forward(x, lengths=[6, 2, 4])
    assert np.array_equal(out, out2) and np.array_equal(h, h2) and np.array_equal(c, c2)


def test_threads_give_the_same_result_within_rounding():
    m = nn.LSTM(16, 48, seed=0)
    x = np.random.default_rng(6).standard_normal((10, 9, 16)).astype(np.float32)
    outs = []
    for n in (1, 2):
        fastseq.set_num_threads(n)
        try:
            m.zero_grad()
            out, _ = m.forward(x)
            gx, _ = m.backward(np.ones_like(out))
            outs.append((out, gx, m.weight_ih_l0.grad.copy()))
        finally:
            fastseq.set_num_threads(None)
    for a, b in zip(*outs):
        assert rel_err(a, b) < 1e-5


# ---------------------------------------------------------------- found by a review against PyTorch
def _emb_lin_pair(torch, tied, sparse_torch=False):
    """Embedding(8, 4) -> Linear(4, 8) in both libraries with the same weights;
    ``tied``: the Linear's weight is the Embedding's (as in tied language models)."""
    emb, lin = nn.Embedding(8, 4, seed=0), nn.Linear(4, 8, bias=not tied, seed=1)
    if tied:
        lin.weight = emb.weight
    temb = torch.nn.Embedding(8, 4, sparse=sparse_torch)
    tlin = torch.nn.Linear(4, 8, bias=not tied)
    temb.load_state_dict({k: torch.from_numpy(v) for k, v in emb.state_dict().items()})
    tlin.load_state_dict({k: torch.from_numpy(v) for k, v in lin.state_dict().items()})
    if tied:
        tlin.weight = temb.weight
    return emb, lin, temb, tlin


def _emb_lin_steps(torch, emb, lin, temb, tlin, opt, topt, batches):
    ce = nn.CrossEntropyLoss()
    params = {id(p): p for p in list(emb.parameters()) + list(lin.parameters())}
    for ids, y in batches:
        opt.zero_grad()
        loss = ce.forward(lin.forward(emb.forward(ids)), y)
        emb.backward(lin.backward(ce.backward()))
        opt.step()
        topt.zero_grad()
        tloss = torch.nn.functional.cross_entropy(tlin(temb(torch.from_numpy(ids))), torch.from_numpy(y))
        tloss.backward()
        topt.step()
        assert abs(loss - tloss.item()) < 1e-5 * abs(tloss.item())
    assert len(params) == len({id(p) for p in list(temb.parameters()) + list(tlin.parameters())})
    assert rel_err(emb.weight.data, temb.weight.detach().numpy()) < 1e-5
    return params


def test_tied_embedding_and_output_weights_train_as_in_torch():
    torch = _torch()
    rng = np.random.default_rng(7)
    # each batch looks up rows 0-2 only: the output layer's gradient reaches every row
    batches = [(rng.integers(0, 3, 5), rng.integers(0, 8, 5)) for _ in range(4)]
    for make, tmake in ((lambda p: optim.SGD(p, lr=0.5, momentum=0.9), lambda p: torch.optim.SGD(p, lr=0.5, momentum=0.9)),
                        (lambda p: optim.Adam(p, lr=0.05), lambda p: torch.optim.Adam(p, lr=0.05))):
        emb, lin, temb, tlin = _emb_lin_pair(torch, tied=True)
        assert lin.weight is emb.weight
        _emb_lin_steps(torch, emb, lin, temb, tlin, make(emb.parameters()), tmake(temb.parameters()), batches)
        emb.zero_grad()
        assert not emb.weight.grad.any() and emb.weight.rows is None


def test_sparse_rows_follow_sparse_adam_and_start_momentum_at_the_gradient():
    torch = _torch()
    rng = np.random.default_rng(8)
    batches = [(rng.integers(0, 8, 3), rng.integers(0, 8, 3)) for _ in range(5)]
    # Adam on looked-up rows: torch.optim.SparseAdam (lazy, its own placement of eps)
    emb, lin, temb, tlin = _emb_lin_pair(torch, tied=False, sparse_torch=True)
    opt = optim.Adam(list(emb.parameters()) + list(lin.parameters()), lr=0.1, eps=1e-3)
    topt_e = torch.optim.SparseAdam(list(temb.parameters()), lr=0.1, eps=1e-3)
    topt_l = torch.optim.Adam(list(tlin.parameters()), lr=0.1, eps=1e-3)

    class Both:
        def zero_grad(self):
            topt_e.zero_grad()
            topt_l.zero_grad()

        def step(self):
            topt_e.step()
            topt_l.step()
    _emb_lin_steps(torch, emb, lin, temb, tlin, opt, Both(), batches)
    # SGD momentum with dampening: a row's buffer starts as its first gradient,
    # as a dense parameter's does (every row looked up at every step: same as dense)
    every = [(np.arange(8), rng.integers(0, 8, 8)) for _ in range(3)]
    emb, lin, temb, tlin = _emb_lin_pair(torch, tied=False)
    kw = dict(lr=0.5, momentum=0.9, dampening=0.5)
    _emb_lin_steps(torch, emb, lin, temb, tlin, optim.SGD(list(emb.parameters()) + list(lin.parameters()), **kw),
                   torch.optim.SGD(list(temb.parameters()) + list(tlin.parameters()), **kw), every)
    # a row first looked up at the second step starts there, at its gradient
    emb = nn.Embedding(4, 2, seed=0)
    opt = optim.SGD(emb.parameters(), lr=1.0, momentum=0.9, dampening=0.5)
    for ids in ([0], [1]):
        opt.zero_grad()
        emb.forward(np.array(ids))
        emb.backward(np.ones((1, 2), np.float32))
        opt.step()
    buf = opt.state[id(emb.weight)]["momentum_buffer"]
    assert np.array_equal(buf[:2], np.ones((2, 2))) and not buf[2:].any()


def test_float64_backward_from_final_state_gradients_only():
    rng = np.random.default_rng(9)
    x = rng.standard_normal((4, 2, 3))
    gh = rng.standard_normal((1, 2, 5))
    for cls in (nn.RNN, nn.GRU, nn.LSTM):
        m = cls(3, 5, dtype=np.float64, seed=0)
        grads = []
        for go in (None, np.zeros((4, 2, 5))):
            m.zero_grad()
            out, _ = m.forward(x)
            gx = m.backward(go, gh)[0]
            grads.append((gx, m.weight_hh_l0.grad.copy()))
        assert np.array_equal(grads[0][0], grads[1][0]) and np.array_equal(grads[0][1], grads[1][1])
        assert grads[0][1].any()


def test_assigning_an_array_to_a_parameter_or_module_name_raises():
    m = nn.RNN(3, 2)
    with pytest.raises(TypeError, match="weight_ih_l0.*Parameter or None"):
        m.weight_ih_l0 = np.zeros((2, 3), np.float32)
    assert isinstance(m.weight_ih_l0, nn.Parameter)
    seq = nn.Sequential(nn.Linear(2, 2))
    with pytest.raises(TypeError, match="child module '0'"):
        setattr(seq, "0", 5)
    m.weight_ih_l0.data = np.ones((2, 3))  # the documented way to change the values
    assert m.weight_ih_l0.data.dtype == np.float32 and m.weight_ih_l0.data.all()


def test_load_checks_everything_before_changing_anything(tmp_path):
    a, b = nn.Linear(3, 4, seed=0), nn.Linear(3, 4, seed=1)
    opt = optim.Adam(list(a.parameters()) + list(b.parameters()), lr=0.1)
    path = tmp_path / "m.npz"
    nn.save({"a": a, "b": b, "opt": opt}, path)
    a2, b2 = nn.Linear(3, 4, seed=2), nn.Linear(3, 4, seed=3)
    before = a2.weight.data.copy()
    with pytest.raises(ValueError, match="'opt': state_dict: parameter group 0 has 4 parameters"):
        nn.load(path, {"a": a2, "b": b2, "opt": optim.Adam(a2.parameters())})
    assert np.array_equal(a2.weight.data, before)
    # training-only settings may differ; what the weights mean may not
    r = nn.LSTM(3, 4, dropout=0.0, num_layers=2, seed=0)
    nn.save(r, tmp_path / "r.npz")
    r2 = nn.LSTM(3, 4, dropout=0.3, num_layers=2, batch_first=True, seed=1)
    nn.load(tmp_path / "r.npz", r2)
    assert np.array_equal(r2.weight_hh_l1.data, r.weight_hh_l1.data)
    with pytest.raises(ValueError, match="saved with"):
        nn.load(tmp_path / "r.npz", nn.LSTM(3, 4, num_layers=2, bias=False))


def _resume_torch_run(torch, make_torch_opt, make_ours, seed):
    """Two steps of a torch optimiser on a parameter, its state loaded into ours,
    then two more steps of each from the same gradients, which must agree.
    Returns (ours, our parameter, torch's parameter)."""
    rng = np.random.default_rng(seed)
    tp = torch.nn.Parameter(torch.from_numpy(rng.standard_normal(3).astype(np.float32)))
    topt = make_torch_opt([tp])
    grads = rng.standard_normal((4, 3)).astype(np.float32)
    for gr in grads[:2]:
        tp.grad = torch.from_numpy(gr.copy())
        topt.step()
    q = nn.Parameter(tp.detach().numpy().copy())
    ours = make_ours([q])
    ours.load_state_dict(topt.state_dict())
    for gr in grads[2:]:
        tp.grad = torch.from_numpy(gr.copy())
        topt.step()
        q.grad[:] = gr
        ours.step()
    assert rel_err(q.data, tp.detach().numpy()) < 1e-6
    return ours, q, tp


def test_optimizer_state_is_checked_and_torch_state_continues_alike():
    torch = _torch()
    p = nn.Parameter(np.zeros(3, np.float32))
    sgd = optim.SGD([p], lr=0.1, momentum=0.9)
    p.grad[:] = 1
    sgd.step()
    adam = optim.Adam([p])
    with pytest.raises(ValueError, match="momentum"):
        adam.load_state_dict(sgd.state_dict())
    bad = optim.Adam([p])
    p.grad[:] = 1
    bad.step()
    sd = bad.state_dict()
    sd["state"][0]["exp_avg"] = np.zeros(4)
    with pytest.raises(ValueError, match=r"exp_avg.*shape \(3,\)"):
        adam.load_state_dict(sd)
    del sd["state"][0]["exp_avg"]
    with pytest.raises(ValueError, match="missing 'exp_avg'"):
        adam.load_state_dict(sd)
    assert adam.state == {}
    # a torch Adam's state (tensors, a tensor step) loads and continues as torch does
    ours, q, tp = _resume_torch_run(torch, lambda p: torch.optim.Adam(p, lr=0.1),
                                    lambda p: optim.Adam(p, lr=0.5), seed=10)
    assert ours.param_groups[0]["lr"] == pytest.approx(0.1) and ours.state[id(q)]["step"] == 4
    with pytest.raises(ValueError, match="decoupled_weight_decay"):
        optim.Adam([q]).load_state_dict(torch.optim.AdamW([tp]).state_dict())


def test_schedules_build_on_a_changed_learning_rate_and_inference_mode_is_per_thread():
    import threading
    p = nn.Parameter(np.zeros(1, np.float32))
    opt = optim.SGD([p], lr=1.0)
    s = optim.StepLR(opt, step_size=2, gamma=0.5)
    s.step()
    opt.param_groups[0]["lr"] = 0.1  # by hand, as PyTorch lets the next step build on
    s.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(0.05)
    e = optim.ExponentialLR(opt, gamma=0.5)
    e.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(0.025)
    seen = []
    with nn.inference_mode():
        t = threading.Thread(target=lambda: seen.append(nn.is_inference_mode()))
        t.start()
        t.join()
        seen.append(nn.is_inference_mode())
    assert seen == [False, True]


def test_inputs_changed_after_forward_do_not_change_the_gradients():
    rng = np.random.default_rng(11)
    x = rng.standard_normal((5, 2, 3)).astype(np.float32)
    for make in (lambda: nn.LSTM(3, 4, seed=0), lambda: nn.Linear(3, 4, seed=0)):
        grads = []
        for edit in (False, True):
            m = make()
            buf = x.copy()
            out = m.forward(buf)
            out = out[0] if isinstance(out, tuple) else out
            if edit:
                buf[:] = 7.0  # the caller refills its batch buffer before backward
            m.backward(np.ones_like(out))
            grads.append(m.weight_ih_l0.grad.copy() if isinstance(m, nn.LSTM) else m.weight.grad.copy())
        assert np.array_equal(grads[0], grads[1])
    emb = nn.Embedding(5, 2, seed=0)
    ids = np.array([1, 2])
    emb.forward(ids)
    ids[:] = 4
    emb.backward(np.ones((2, 2), np.float32))
    assert list(emb.weight.rows) == [1, 2]


def test_torch_tensors_that_require_grad_are_read():
    torch = _torch()
    m = nn.GRU(3, 4, seed=0)
    xt = torch.randn(5, 2, 3, requires_grad=True)
    out, _ = m.forward(xt)
    ref, _ = m.forward(xt.detach().numpy())
    assert np.array_equal(out, ref)


def test_optimizer_subclasses_tied_copies_and_bfloat16_tensors():
    import copy
    torch = _torch()

    class Count(optim.Optimizer):  # a user's optimiser with its own per-parameter state
        def __init__(self, params):
            super().__init__(params, dict(lr=0.1))

        def step(self):
            for p in self._all_params():
                st = self.state.setdefault(id(p), {"n": 0, "last": np.zeros_like(p.data)})
                st["n"] += 1
                st["last"] = p.grad.copy()
    p = nn.Parameter(np.zeros(3, np.float32))
    c = Count([p])
    p.grad[:] = 2
    c.step()
    c2 = Count([p])
    c2.load_state_dict(c.state_dict())
    assert c2.state[id(p)]["n"] == 1 and c2.state[id(p)]["last"].tolist() == [2, 2, 2]
    # a tied model deep-copied between step and zero_grad (a "best model" snapshot)
    emb, lin = nn.Embedding(6, 3, seed=0), nn.Linear(3, 6, bias=False, seed=1)
    lin.weight = emb.weight
    emb.backward(lin.backward(np.ones((2, 6), np.float32)) if lin.forward(emb.forward(np.array([1, 2])))
                 is not None else None)
    emb2 = copy.deepcopy(emb)
    emb2.forward(np.array([3]))
    emb2.backward(np.ones((1, 3), np.float32))  # a copied ALL_ROWS is still "all rows"
    opt = optim.SGD(emb2.parameters(), lr=0.1)
    before = emb2.weight.data.copy()
    opt.step()
    assert (emb2.weight.data != before).any(axis=1).sum() == 6  # the whole tied gradient
    emb2.zero_grad()
    assert not emb2.weight.grad.any()
    # a bfloat16 tensor is read as float32 (exact), as load_state_dict does
    m = nn.RNN(3, 2, seed=0)
    x = torch.randn(4, 1, 3).to(torch.bfloat16)
    out, _ = m.forward(x)
    assert np.array_equal(out, m.forward(x.float().numpy())[0])


# ---------------------------------------------------------------- module API as PyTorch's
class _Tied(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(5, 3, seed=0)
        self.head = nn.Linear(3, 5, seed=1)
        self.head.weight = self.emb.weight


def test_tied_weights_keep_both_names_in_state_dict_both_ways():
    torch = _torch()

    class TTied(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = torch.nn.Embedding(5, 3)
            self.head = torch.nn.Linear(3, 5)
            self.head.weight = self.emb.weight
    t, f = TTied(), _Tied()
    assert list(f.state_dict()) == list(t.state_dict()) == ["emb.weight", "head.weight", "head.bias"]
    assert [n for n, _ in f.named_parameters()] == [n for n, _ in t.named_parameters()]
    t.load_state_dict({k: torch.from_numpy(v) for k, v in f.state_dict().items()})  # strict
    assert np.array_equal(t.head.weight.detach().numpy(), f.emb.weight.data)
    with torch.no_grad():
        t.emb.weight.mul_(2)
    f.load_state_dict(t.state_dict())
    assert np.array_equal(f.head.weight.data, t.emb.weight.detach().numpy())
    sd = f.state_dict()
    del sd["head.weight"]  # listed once (files written before): still loads, strict
    assert f.load_state_dict(sd) == ([], [])
    lin = nn.Linear(2, 2)
    assert list(nn.Sequential(lin, lin).state_dict()) == ["0.weight", "0.bias", "1.weight", "1.bias"]
    assert [n for n, _ in nn.Sequential(lin, lin).named_modules()] == ["", "0"]


def test_module_api_details_as_pytorch():
    m = _Tied()
    assert [n for n, _ in m.named_parameters(prefix="model")] == ["model.emb.weight", "model.head.bias"]
    r = m.load_state_dict({"emb.weight": np.zeros((5, 3)), "extra": np.zeros(1)}, strict=False)
    assert r.missing_keys == ["head.bias"] and r.unexpected_keys == ["extra"]
    for bad in ({"emb.weight": np.zeros((5, 3))}, {"emb.weight": np.zeros((5, 4)), "head.bias": np.zeros(5)}):
        with pytest.raises(RuntimeError):  # PyTorch's error type (and still a ValueError)
            m.load_state_dict(bad)
        with pytest.raises(ValueError):
            m.load_state_dict(bad)
    lin = nn.Linear(3, 2)
    del lin.bias
    assert [n for n, _ in lin.named_parameters()] == ["weight"] and not hasattr(lin, "bias")
    del m.head
    assert list(m.state_dict()) == ["emb.weight"]


def test_add_param_group_and_step_closure_as_torch():
    torch = _torch()
    rng = np.random.default_rng(8)
    a, b = nn.Linear(3, 2, seed=0), nn.Linear(2, 2, seed=1)
    ta, tb = torch.nn.Linear(3, 2), torch.nn.Linear(2, 2)
    for m, t in ((a, ta), (b, tb)):
        t.load_state_dict({k: torch.from_numpy(v) for k, v in m.state_dict().items()})
    opt = optim.Adam(a.parameters(), lr=0.01)
    topt = torch.optim.Adam(ta.parameters(), lr=0.01)
    x = rng.standard_normal((4, 3)).astype(np.float32)
    for step in range(4):
        if step == 2:  # unfreeze b part-way, with its own learning rate
            opt.add_param_group({"params": b.parameters(), "lr": 0.05})
            topt.add_param_group({"params": tb.parameters(), "lr": 0.05})

        def closure():
            opt.zero_grad()
            y = b.forward(a.forward(x))
            a.backward(b.backward(2 * y / y.size))
            return float((y ** 2).mean())

        def tclosure():
            topt.zero_grad()
            loss = (tb(ta(torch.from_numpy(x))) ** 2).mean()
            loss.backward()
            return loss
        loss, tloss = opt.step(closure), topt.step(tclosure)
        assert loss == pytest.approx(tloss.item(), rel=1e-5)
    for m, t in ((a, ta), (b, tb)):
        for (k, v), tv in zip(m.state_dict().items(), t.state_dict().values()):
            assert rel_err(v, tv.numpy()) < 1e-5, k
    assert [g["lr"] for g in opt.param_groups] == [0.01, 0.05]
    assert opt.param_groups[1]["betas"] == (0.9, 0.999)  # from the defaults
    with pytest.raises(ValueError, match="more than once"):
        opt.add_param_group({"params": [a.weight]})
    with pytest.raises(ValueError, match="param_group: expected a parameter group"):
        opt.add_param_group([b.weight])
    assert opt.step() is None


@pytest.mark.parametrize("set_to_none", [True, False])
@pytest.mark.parametrize("kind", ["momentum", "adamw", "adam"])
def test_a_parameter_without_gradient_is_skipped_as_in_torch(kind, set_to_none):
    """Two heads, one used per step: with zero_grad() (torch's set_to_none=True) the
    idle head gets no weight decay, momentum or Adam step, as a None grad in torch;
    with set_to_none=False its zero gradient is stepped in both."""
    torch = _torch()
    rng = np.random.default_rng(9)
    body, heads = nn.Linear(4, 5, seed=0), [nn.Linear(5, 3, seed=1), nn.Linear(5, 2, seed=2)]
    tbody, theads = torch.nn.Linear(4, 5), [torch.nn.Linear(5, 3), torch.nn.Linear(5, 2)]
    for m, t in zip([body] + heads, [tbody] + theads):
        t.load_state_dict({k: torch.from_numpy(v) for k, v in m.state_dict().items()})
    params = list(body.parameters()) + [p for h in heads for p in h.parameters()]
    tparams = list(tbody.parameters()) + [p for h in theads for p in h.parameters()]
    ours, theirs, kw = {
        "momentum": (optim.SGD, torch.optim.SGD, dict(lr=0.1, momentum=0.9, weight_decay=0.05)),
        "adamw": (optim.AdamW, torch.optim.AdamW, dict(lr=0.05, weight_decay=0.1)),
        "adam": (optim.Adam, torch.optim.Adam, dict(lr=0.05)),
    }[kind]
    opt, topt = ours(params, **kw), theirs(tparams, **kw)
    for step, h in enumerate([0, 0, 1, 0, 1, 1]):
        x = rng.standard_normal((6, 4)).astype(np.float32)
        opt.zero_grad(set_to_none=set_to_none)
        topt.zero_grad(set_to_none=set_to_none)
        y = heads[h].forward(body.forward(x))
        body.backward(heads[h].backward(2 * y / y.size))
        (theads[h](tbody(torch.from_numpy(x))) ** 2).mean().backward()
        opt.step()
        topt.step()
    for m, t in zip([body] + heads, [tbody] + theads):
        for (k, v), tv in zip(m.state_dict().items(), t.state_dict().values()):
            assert rel_err(v, tv.numpy()) < 1e-5, (k, step)


def test_grad_assignment_and_none_as_in_torch():
    lin = nn.Linear(2, 2, seed=0)
    w0 = lin.weight.data.copy()
    opt = optim.AdamW(lin.parameters(), lr=0.1, weight_decay=0.5)
    assert not lin.weight.has_grad() and not lin.bias.has_grad()
    opt.step()  # no gradient anywhere yet: nothing moves (torch: every grad is None)
    np.testing.assert_array_equal(lin.weight.data, w0)
    lin.weight.grad = np.ones((2, 2))  # an assigned gradient is stepped
    assert lin.weight.has_grad() and lin.weight.grad.dtype == np.float32
    opt.step()
    assert (lin.weight.data != w0).all() and "step" not in opt.state.get(id(lin.bias), {})
    with pytest.raises(ValueError, match=r"weight.grad: expected shape \(2, 2\)"):
        lin.weight.grad = np.ones(3)
    lin.weight.grad = None
    assert not lin.weight.has_grad() and not lin.weight.grad.any()
    lin.bias.grad[:] = 1.0  # written in place into a cleared gradient: still stepped
    assert lin.bias.has_grad()
    lin.zero_grad(set_to_none=False)
    assert lin.bias.has_grad() and not lin.bias.grad.any()


def test_module_list_and_dict_name_parameters_as_torch():
    torch = _torch()

    class Ours(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = nn.ModuleList([nn.LSTM(3, 4, seed=0), nn.LSTM(4, 4, seed=1)])
            self.heads = nn.ModuleDict({"tag": nn.Linear(4, 5, seed=2), "cls": nn.Linear(4, 2, seed=3)})

    class Theirs(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = torch.nn.ModuleList([torch.nn.LSTM(3, 4), torch.nn.LSTM(4, 4)])
            self.heads = torch.nn.ModuleDict({"tag": torch.nn.Linear(4, 5), "cls": torch.nn.Linear(4, 2)})

    ours, theirs = Ours(), Theirs()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict(theirs.state_dict())
    x = np.random.default_rng(0).standard_normal((6, 2, 3)).astype(np.float32)
    h, th = x, torch.from_numpy(x)
    for layer, tlayer in zip(ours.layers, theirs.layers):
        h, _ = layer.forward(h)
        th, _ = tlayer(th)
    assert rel_err(ours.heads["tag"].forward(h), theirs.heads["tag"](th).detach().numpy()) < 1e-5
    # the same edits name the modules the same way (a deletion renumbers, as in torch)
    for lst, mk in ((ours.layers, lambda: nn.Linear(4, 4)), (theirs.layers, lambda: torch.nn.Linear(4, 4))):
        lst.append(mk())
        lst.insert(1, mk())
        del lst[0]
        lst[-1] = mk()
        lst += [mk()]
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [type(m).__name__ for m in ours.layers] == [type(m).__name__ for m in theirs.layers]
    assert len(ours.layers[1:3]) == 2 and isinstance(ours.layers[1:3], nn.ModuleList)
    with pytest.raises(IndexError):
        ours.layers[10]
    ours.heads["extra"] = nn.Linear(4, 1)
    theirs.heads["extra"] = torch.nn.Linear(4, 1)
    assert ours.heads.pop("cls") is not None and theirs.heads.pop("cls") is not None
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert list(ours.heads) == ["tag", "extra"] and "tag" in ours.heads and len(ours.heads) == 2
    # apply visits sub-modules first, as torch does
    seen, tseen = [], []
    ours.apply(lambda m: seen.append(type(m).__name__))
    theirs.apply(lambda m: tseen.append(type(m).__name__))
    assert seen == [t.replace("Theirs", "Ours") for t in tseen]
    with pytest.raises(ValueError, match="not a .name, module. pair"):
        ours.heads.update([nn.Linear(1, 1)])


def test_module_conveniences_as_torch(tmp_path):
    torch = _torch()
    m = nn.Sequential(nn.Embedding(10, 4, seed=0), nn.LSTM(4, 3, seed=1))
    assert m.to("cpu") is m and m.to(torch.device("cpu")) is m and m.cpu() is m
    assert m.to(torch.float32) is m and m.to(np.float32) is m and m.to("cpu", torch.float32) is m
    with pytest.raises(ValueError, match="CPU only"):
        m.to("cuda")
    with pytest.raises(ValueError, match="dtype="):
        m.to(torch.float64)
    assert m.get_submodule("1") is m[1] and m.get_parameter("1.weight_hh_l0") is m[1].weight_hh_l0
    with pytest.raises(AttributeError, match="no parameter 'nope'"):
        m.get_parameter("1.nope")
    m.requires_grad_(False)
    assert not any(p.requires_grad for p in m.parameters())
    assert [n for n, _ in m.named_children()] == ["0", "1"] and len(list(m.modules())) == 3
    extra = nn.Module()
    extra.register_parameter("scale", nn.Parameter(np.ones(2, dtype=np.float32)))
    extra.add_module("proj", nn.Linear(2, 2))
    assert list(extra.state_dict()) == ["scale", "proj.weight", "proj.bias"]
    extra.register_parameter("scale", None)
    assert list(extra.state_dict()) == ["proj.weight", "proj.bias"]
    # a model built from containers saves and loads like any other
    net = nn.ModuleDict({"enc": nn.ModuleList([nn.GRU(2, 3, seed=4)]), "out": nn.Linear(3, 2, seed=5)})
    nn.save({"net": net}, tmp_path / "net.npz")
    other = nn.ModuleDict({"enc": nn.ModuleList([nn.GRU(2, 3, seed=9)]), "out": nn.Linear(3, 2, seed=9)})
    nn.load(tmp_path / "net.npz", {"net": other})
    for (k, v), w in zip(net.state_dict().items(), other.state_dict().values()):
        np.testing.assert_array_equal(v, w, err_msg=k)


@pytest.mark.parametrize("kind", ["step", "exp", "plateau"])
def test_schedules_save_and_load_with_their_optimizer(tmp_path, kind):
    """Training resumed from nn.save goes on with the schedule where it was: the
    same learning rates as an uninterrupted run."""
    def build():
        lin = nn.Linear(3, 2, seed=0)
        opt = optim.SGD(lin.parameters(), lr=0.5, momentum=0.9)
        sched = {"step": lambda: optim.StepLR(opt, step_size=2, gamma=0.5),
                 "exp": lambda: optim.ExponentialLR(opt, gamma=0.8),
                 "plateau": lambda: optim.ReduceLROnPlateau(opt, patience=1, factor=0.5)}[kind]()
        return lin, opt, sched

    losses = [3.0, 2.0, 2.5, 2.6, 2.7, 1.0, 1.1, 1.2, 1.3]

    def run(lin, opt, sched, steps):
        x = np.ones((4, 3), dtype=np.float32)
        rates = []
        for loss in steps:
            opt.zero_grad()
            y = lin.forward(x)
            lin.backward(np.ones_like(y))
            opt.step()
            sched.step(loss) if kind == "plateau" else sched.step()
            rates.append(opt.param_groups[0]["lr"])
        return rates

    ref = build()
    whole = run(*ref, losses)
    lin, opt, sched = build()
    first = run(lin, opt, sched, losses[:4])
    nn.save({"model": lin, "opt": opt, "sched": sched}, tmp_path / "ckpt.npz")
    lin2, opt2, sched2 = build()
    nn.load(tmp_path / "ckpt.npz", {"model": lin2, "opt": opt2, "sched": sched2})
    assert first + run(lin2, opt2, sched2, losses[4:]) == whole
    np.testing.assert_array_equal(lin2.weight.data, ref[0].weight.data)  # momentum came back too
    # another kind of schedule, or a damaged state, is refused before anything changes
    other = optim.StepLR(opt2, step_size=3) if kind != "step" else optim.ExponentialLR(opt2, gamma=0.9)
    with pytest.raises(ValueError, match="sched"):
        nn.load(tmp_path / "ckpt.npz", {"model": lin2, "opt": opt2, "sched": other})
    state = sched2.state_dict()
    with pytest.raises(ValueError, match="base_lrs"):
        sched2.load_state_dict({**state, "base_lrs": ["0.1"]})
    with pytest.raises(ValueError, match="last_epoch"):
        sched2.load_state_dict({**state, "last_epoch": "three"})
    assert sched2.state_dict() == state


@pytest.mark.filterwarnings("ignore:Detected call of")
def test_schedules_after_add_param_group_as_torch(tmp_path):
    """A group added after the schedule (unfreezing part-way) is scheduled too, and a
    run saved then resumed with the groups built up front loads (PyTorch does both)."""
    torch = _torch()
    a, b = nn.Linear(2, 2, seed=0), nn.Linear(2, 2, seed=1)
    ta, tb = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)
    for ours, theirs, kw in [
            (optim.ReduceLROnPlateau, torch.optim.lr_scheduler.ReduceLROnPlateau,
             dict(patience=0, min_lr=0.02)),
            (optim.StepLR, torch.optim.lr_scheduler.StepLR, dict(step_size=1, gamma=0.5)),
            (optim.ExponentialLR, torch.optim.lr_scheduler.ExponentialLR, dict(gamma=0.5))]:
        opt, topt = optim.SGD(a.parameters(), lr=1.0), torch.optim.SGD(ta.parameters(), lr=1.0)
        s, ts = ours(opt, **kw), theirs(topt, **kw)
        opt.add_param_group({"params": b.parameters(), "lr": 1.0})
        topt.add_param_group({"params": tb.parameters(), "lr": 1.0})
        for _ in range(4):
            if ours is optim.ReduceLROnPlateau:
                s.step(1.0)
                ts.step(1.0)
            else:
                s.step()
                ts.step()
            assert [g["lr"] for g in opt.param_groups] == pytest.approx([g["lr"] for g in topt.param_groups])
            assert s.get_last_lr() == pytest.approx(ts.get_last_lr())
        nn.save({"opt": opt, "sched": s}, tmp_path / "run.npz")
        opt2 = optim.SGD([{"params": a.parameters()}, {"params": b.parameters()}], lr=1.0)
        s2 = ours(opt2, **kw)
        nn.load(tmp_path / "run.npz", {"opt": opt2, "sched": s2})
        assert s2.get_last_lr() == s.get_last_lr()
        assert [g["lr"] for g in opt2.param_groups] == [g["lr"] for g in opt.param_groups]
    # a min_lr per group leaves a new group's to the user, as PyTorch
    opt = optim.SGD(a.parameters(), lr=1.0)
    s = optim.ReduceLROnPlateau(opt, patience=0, min_lr=[0.1])
    opt.add_param_group({"params": b.parameters()})
    s.step(1.0)
    with pytest.raises(RuntimeError, match="min_lrs"):
        s.step(1.0)
    s.min_lrs = [0.1, 0.3]
    s.step(1.0)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.3]


def test_schedule_state_saved_before_last_lr_was_kept_still_loads():
    p = nn.Parameter(np.zeros(2, np.float32))
    opt = optim.SGD([p], lr=1.0)
    s = optim.ReduceLROnPlateau(opt, patience=0)
    s.step(1.0)
    s.step(1.0)
    old = {k: v for k, v in s.state_dict().items() if k not in ("_last_lr", "default_min_lr")}
    s2 = optim.ReduceLROnPlateau(optim.SGD([p], lr=0.1), patience=0)
    s2.load_state_dict(old)
    assert s2.default_min_lr == 0.0 and s2.num_bad_epochs == s.num_bad_epochs
    assert s2.get_last_lr() == [0.1]
    with pytest.raises(ValueError, match="default_min_lr"):
        s2.load_state_dict({**s.state_dict(), "default_min_lr": "none"})


@pytest.mark.filterwarnings("ignore:Detected call of")
def test_get_last_lr_is_the_schedule_s_not_a_rate_set_by_hand():
    torch = _torch()
    opt = optim.SGD([nn.Parameter(np.zeros(2, np.float32))], lr=1.0)
    topt = torch.optim.SGD([torch.zeros(2, requires_grad=True)], lr=1.0)
    s = optim.StepLR(opt, step_size=1, gamma=0.5)
    ts = torch.optim.lr_scheduler.StepLR(topt, step_size=1, gamma=0.5)
    assert s.get_last_lr() == ts.get_last_lr() == [1.0]
    s.step()
    ts.step()
    opt.param_groups[0]["lr"] = topt.param_groups[0]["lr"] = 5.0
    assert s.get_last_lr() == ts.get_last_lr() == [0.5]
    s.step()
    ts.step()
    assert s.get_last_lr() == ts.get_last_lr() == [2.5]


def test_plateau_arguments_and_metrics_are_checked():
    opt = optim.SGD([nn.Parameter(np.zeros(2, np.float32))], lr=1.0)
    for kw, name in [(dict(threshold="a"), "threshold"), (dict(factor="a"), "factor"),
                     (dict(factor=1.0), "factor"), (dict(cooldown=1.5), "cooldown"),
                     (dict(cooldown=-1), "cooldown"), (dict(eps=-1.0), "eps"),
                     (dict(patience=-1), "patience")]:
        with pytest.raises((ValueError, TypeError), match=name):
            optim.ReduceLROnPlateau(opt, **kw)
    s = optim.ReduceLROnPlateau(opt)
    for bad in (None, "x", np.array([1.0, 2.0])):
        with pytest.raises(TypeError, match="metrics"):
            s.step(bad)
    s.step(np.float32(1.5))
    assert s.best == 1.5


def test_optimizer_load_state_dict_names_malformed_parts():
    p = nn.Parameter(np.zeros(2, np.float32))
    opt = optim.SGD([p], lr=1.0, momentum=0.9)
    sd = opt.state_dict()
    with pytest.raises(ValueError, match=r"state_dict\['param_groups'\]"):
        opt.load_state_dict({**sd, "param_groups": 5})
    with pytest.raises(ValueError, match=r"state_dict\['state'\]: expected parameter indices"):
        opt.load_state_dict({**sd, "state": {"x": {"momentum_buffer": np.zeros(2)}}})
    with pytest.raises(ValueError, match=r"state_dict\['state'\]: expected a dict"):
        opt.load_state_dict({**sd, "state": [1]})
    opt.load_state_dict({**sd, "state": {"0": {"momentum_buffer": np.ones(2)}}})  # JSON-style keys
    assert opt.state[id(p)]["momentum_buffer"].tolist() == [1.0, 1.0]


def test_parameter_array_copies_when_numpy_asks():
    p = nn.Parameter(np.zeros(3, np.float32))
    a = np.array(p)  # a copy, as np.array promises
    a[0] = 99
    b = np.array(p, copy=True)
    b[1] = 5
    assert p.data.tolist() == [0, 0, 0]
    assert np.asarray(p) is p.data  # no copy where none is asked for
    assert np.asarray(p, dtype=np.float64).dtype == np.float64
    with pytest.raises(ValueError, match="copy"):
        np.asarray(p, dtype=np.float64, copy=False)


def test_nested_sequential_passes_lengths_and_states():
    x = np.random.default_rng(3).standard_normal((5, 2, 3)).astype(np.float32)
    g = nn.GRU(3, 4, seed=0)
    lin = nn.Linear(3, 3, seed=1)
    flat = nn.Sequential(lin, g)
    nested = nn.Sequential(lin, nn.Sequential(g))
    y_flat = flat.forward(x, lengths=[2, 5])
    y_nested = nested.forward(x, lengths=[2, 5])
    np.testing.assert_array_equal(y_flat, y_nested)
    assert (y_nested[2:, 0] == 0).all()  # past the first sequence's length
    assert len(nested.states) == 1
    np.testing.assert_array_equal(nested.states[0], flat.states[0])


def test_modules_take_torch_dtypes():
    torch = _torch()
    assert nn.GRU(3, 4, dtype=torch.float64).weight_ih_l0.dtype == np.float64
    assert nn.Linear(2, 2, dtype=torch.float64).weight.dtype == np.float64
    assert nn.Embedding(4, 2, dtype=torch.float32).weight.dtype == np.float32
    with pytest.raises(ValueError, match="dtype"):
        nn.LSTM(2, 2, dtype=torch.int32)


def test_old_schedule_state_through_nn_load_reports_the_loaded_rates(tmp_path):
    """A schedule saved before _last_lr was kept, loaded with its optimizer by nn.load
    (checked first, applied after): get_last_lr gives the loaded rates, not the fresh
    optimizer's."""
    p = nn.Parameter(np.zeros(2, np.float32))
    opt = optim.SGD([p], lr=1.0)
    s = optim.StepLR(opt, step_size=1, gamma=0.5)
    s.step()
    s.step()
    nn.save({"opt": opt, "sched": s}, tmp_path / "a.npz")
    # the same file as the previous version wrote it: no _last_lr in the schedule's state
    with np.load(tmp_path / "a.npz") as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(bytes(arrays["__meta__"]).decode())
    assert "_last_lr" in json.dumps(meta)
    _drop_key(meta, "_last_lr")
    assert "_last_lr" not in json.dumps(meta)
    arrays["__meta__"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    np.savez(tmp_path / "old.npz", **arrays)
    p2 = nn.Parameter(np.zeros(2, np.float32))
    opt2 = optim.SGD([p2], lr=3.0)
    s2 = optim.StepLR(opt2, step_size=1, gamma=0.5)
    nn.load(tmp_path / "old.npz", {"opt": opt2, "sched": s2})
    assert s2.get_last_lr() == [0.25] == [g["lr"] for g in opt2.param_groups]
    s2.step()
    assert s2.get_last_lr() == [0.125]


def _drop_key(obj, key):
    if isinstance(obj, dict):
        obj.pop(key, None)
        for v in obj.values():
            _drop_key(v, key)
    elif isinstance(obj, list):
        for v in obj:
            _drop_key(v, key)


def test_schedule_lists_longer_than_the_groups_are_refused():
    opt = optim.SGD([nn.Parameter(np.zeros(2, np.float32))], lr=1.0)
    s = optim.ReduceLROnPlateau(opt, min_lr=[0.0])
    good = s.state_dict()
    for k in ("base_lrs", "_last_lr", "min_lrs"):
        with pytest.raises(ValueError, match=k):
            s.load_state_dict({**good, k: [0.5, 0.5, 0.5]})
    assert s.state_dict() == good


def test_torch_schedule_states_load():
    torch = _torch()
    tp = [torch.zeros(2, requires_grad=True)]
    for ours, theirs, kw, metric in [
            (optim.StepLR, torch.optim.lr_scheduler.StepLR, dict(step_size=2, gamma=0.5), None),
            (optim.ExponentialLR, torch.optim.lr_scheduler.ExponentialLR, dict(gamma=0.7), None),
            (optim.ReduceLROnPlateau, torch.optim.lr_scheduler.ReduceLROnPlateau,
             dict(patience=1, factor=0.5), 1.0)]:
        topt = torch.optim.SGD(tp, lr=1.0)
        ts = theirs(topt, **kw)
        opt = optim.SGD([nn.Parameter(np.zeros(2, np.float32))], lr=1.0)
        s = ours(opt, **kw)
        for _ in range(3):
            topt.step()
            ts.step() if metric is None else ts.step(metric)
        opt.load_state_dict(topt.state_dict())
        s.load_state_dict(ts.state_dict())
        for _ in range(4):
            topt.step()
            ts.step() if metric is None else ts.step(metric)
            s.step() if metric is None else s.step(metric)
            assert [g["lr"] for g in opt.param_groups] == pytest.approx([g["lr"] for g in topt.param_groups])
            assert s.get_last_lr() == pytest.approx(ts.get_last_lr())


def test_sequential_subclass_with_its_own_forward_nests():
    class Scaled(nn.Sequential):
        def forward(self, x):
            return super().forward(x) * 2

        def backward(self, grad):
            return super().backward(grad * 2)

    lin1, lin2 = nn.Linear(3, 3, seed=0), nn.Linear(3, 2, seed=1)
    outer = nn.Sequential(lin1, Scaled(lin2))
    x = np.ones((4, 3), np.float32)
    y = outer.forward(x)
    np.testing.assert_allclose(y, 2 * lin2.forward(lin1.forward(x)), rtol=1e-6)
    g = outer.backward(np.ones_like(y))
    assert g.shape == x.shape


def test_backward_through_nested_sequential_equals_flat():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((5, 2, 3)).astype(np.float32)
    grads = []
    for nest in (False, True):
        lin, g = nn.Linear(3, 3, seed=1), nn.GRU(3, 4, seed=0)
        seq = nn.Sequential(lin, nn.Sequential(g)) if nest else nn.Sequential(lin, g)
        y = seq.forward(x, lengths=[3, 5])
        gx = seq.backward(np.ones_like(y))
        grads.append((gx, lin.weight.grad.copy(), g.weight_hh_l0.grad.copy()))
    for a, b in zip(*grads):
        np.testing.assert_array_equal(a, b)


def test_a_forward_under_inference_mode_leaves_the_pending_one_alone():
    """As in PyTorch, a validation pass under inference_mode between a training
    forward and its backward changes nothing: backward goes through the training
    forward (before, it raised, and an eval-mode forward silently replaced it)."""
    rng = np.random.default_rng(0)
    ids, ids_val = rng.integers(0, 20, (3, 5)), rng.integers(0, 20, (3, 5))
    target, target_val = rng.integers(0, 7, (3, 5)), rng.integers(0, 7, (3, 5))
    lengths = np.array([5, 2, 4])

    def build():
        return nn.Sequential(nn.Embedding(20, 6, seed=1), nn.Dropout(0.3, seed=2),
                             nn.GRU(6, 8, num_layers=2, dropout=0.2, bidirectional=True,
                                    batch_first=True, seed=3),
                             nn.Linear(16, 7, seed=4)), nn.CrossEntropyLoss()

    def step(model, loss_fn, validate):
        loss = loss_fn.forward(model.forward(ids, lengths=lengths), target)
        if validate:
            with nn.inference_mode():
                loss_fn.forward(model.forward(ids_val, lengths=np.array([1, 5, 3])), target_val)
        model.backward(loss_fn.backward())
        return loss, {n: p.grad.copy() for n, p in model.named_parameters()}

    loss_a, grads_a = step(*build(), validate=False)
    loss_b, grads_b = step(*build(), validate=True)
    assert loss_a == loss_b
    for name, g in grads_a.items():
        assert np.array_equal(g, grads_b[name]), name
    # once gone back through, a forward under inference_mode does not make another
    model, loss_fn = build()
    model.forward(ids)
    model.backward(np.ones((3, 5, 7), np.float32))
    with nn.inference_mode():
        model.forward(ids)
    with pytest.raises(RuntimeError, match="Linear.backward: no forward to go back through"):
        model.backward(np.ones((3, 5, 7), np.float32))
    loss_fn.forward(np.zeros((3, 5, 7)), target)
    loss_fn.backward()
    with nn.inference_mode():
        loss_fn.forward(np.zeros((3, 5, 7)), target)
    with pytest.raises(RuntimeError, match="CrossEntropyLoss.backward: no forward"):
        loss_fn.backward()


@pytest.mark.parametrize("cls", [nn.RNN, nn.LSTM, nn.GRU])
def test_python_threads_can_run_one_module_at_once(cls):
    """Inference from several Python threads on one module (a server's workers):
    each call gets scratch buffers of its own. With one shared buffer, concurrent
    calls read each other's packed weights and gates (errors of order 1)."""
    import threading
    fastseq.set_num_threads(1)
    try:
        m = cls(16, 48, num_layers=2, seed=0)
        rng = np.random.default_rng(1)
        xs = [rng.standard_normal((T, B, 16)).astype(np.float32)
              for T, B in ((30, 3), (9, 1), (20, 8), (35, 2))]
        with nn.inference_mode():
            want = [m.forward(x)[0] for x in xs]
        bad = []

        def work(i):
            with nn.inference_mode():
                for _ in range(40):
                    if not np.array_equal(m.forward(xs[i])[0], want[i]):
                        bad.append(i)
                        return

        threads = [threading.Thread(target=work, args=(i,)) for i in range(len(xs))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not bad
    finally:
        fastseq.set_num_threads(None)


def test_maximize_and_implementation_flags_are_checked_and_loaded():
    torch = _torch()
    q = nn.Parameter(np.ones(3, np.float32))
    with pytest.raises(TypeError, match="maximize: expected True or False"):
        optim.SGD([q], maximize="yes")
    for cls in (optim.SGD, optim.Adam, optim.AdamW):
        with pytest.raises(TypeError, match="foreach: expected True, False or None"):
            cls([q], foreach="x")
        with pytest.raises(TypeError, match="fused: expected True, False or None"):
            cls([q], fused=1)
    with pytest.raises(TypeError, match="decoupled_weight_decay: expected True or False"):
        optim.Adam([q], decoupled_weight_decay=None)
    # a torch optimiser's maximize comes with its state, and the runs go on alike
    ours, q, tp = _resume_torch_run(torch, lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.5,
                                                                     maximize=True),
                                    lambda p: optim.SGD(p, lr=0.1, momentum=0.5), seed=0)
    assert ours.param_groups[0]["maximize"] is True
    # and torch takes ours back and goes on alike: here an Adam with decoupled decay
    # (AdamW's), which a plain Adam refuses as an AdamW's state
    rng = np.random.default_rng(1)
    q.data = rng.standard_normal(3).astype(np.float32)
    tp = torch.nn.Parameter(torch.from_numpy(q.data.copy()))
    ours = optim.Adam([q], lr=0.1, weight_decay=0.5, decoupled_weight_decay=True, maximize=True)
    grads = rng.standard_normal((4, 3)).astype(np.float32)
    for gr in grads[:2]:
        q.grad[:] = gr
        ours.step()
    sd = ours.state_dict()
    with pytest.raises(ValueError, match="decoupled_weight_decay"):
        optim.Adam([nn.Parameter(np.ones(3, np.float32))], weight_decay=0.5).load_state_dict(sd)
    topt = torch.optim.Adam([tp], lr=0.3)
    topt.load_state_dict({"state": {k: {n: torch.as_tensor(v) for n, v in st.items()}
                                    for k, st in sd["state"].items()},
                          "param_groups": sd["param_groups"]})
    tp.data = torch.from_numpy(q.data.copy())
    for gr in grads[2:]:
        q.grad[:] = gr
        ours.step()
        tp.grad = torch.from_numpy(gr.copy())
        topt.step()
    assert topt.param_groups[0]["decoupled_weight_decay"] is True
    assert rel_err(q.data, tp.detach().numpy()) < 1e-6


def test_modules_pickled_before_per_call_scratch_still_run():
    import pickle
    m = nn.GRU(4, 6, seed=0)
    x = np.random.default_rng(0).standard_normal((5, 2, 4)).astype(np.float32)
    want = m.forward(x)[0]
    state = dict(m.__dict__)
    del state["_scratch_free"]
    state["_scratch"] = np.empty(10, np.uint8)  # what such a pickle holds
    old = nn.GRU.__new__(nn.GRU)
    old.__setstate__(state)
    assert np.array_equal(old.forward(x)[0], want)
    assert np.array_equal(pickle.loads(pickle.dumps(m)).forward(x)[0], want)


def test_numel_all_weights_and_flatten_parameters_as_torch():
    torch = _torch()
    for bias in (True, False):
        ours = nn.LSTM(3, 4, num_layers=2, bidirectional=True, bias=bias, seed=0)
        theirs = torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True, bias=bias)
        names = {id(p): n for n, p in ours.named_parameters()}
        tnames = {id(p): n for n, p in theirs.named_parameters()}
        assert [[names[id(p)] for p in ws] for ws in ours.all_weights] == \
            [[tnames[id(p)] for p in ws] for ws in theirs.all_weights]
        assert sum(p.numel() for p in ours.parameters()) == \
            sum(p.numel() for p in theirs.parameters())
        x = np.ones((2, 1, 3), np.float32)
        want = ours.forward(x)[0]
        assert ours.flatten_parameters() is None
        assert np.array_equal(ours.forward(x)[0], want)
