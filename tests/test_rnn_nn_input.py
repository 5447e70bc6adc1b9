"""fastseq.nn on bad input and misuse: one clear error naming the argument (or
PyTorch's behaviour), never a silent wrong result or a NumPy/JSON traceback."""
import json
import warnings

import numpy as np
import pytest

from fastseq import nn
from fastseq.nn import optim


def _stepped_linear():
    lin = nn.Linear(2, 2, seed=0)
    lin.forward(np.ones((1, 2), np.float32))
    lin.backward(np.array([[1.0, -2.0]], np.float32))
    return lin


# ---------------------------------------------------------------- layers
def test_dropout_refuses_non_float_input_and_checks_backward():
    d = nn.Dropout(0.3, seed=0)
    for x in (np.ones(8, int), np.ones(8, bool), ["a", "b"]):
        with pytest.raises(TypeError, match="x: expected a floating-point input"):
            d.forward(x)
    with pytest.raises(RuntimeError, match="Dropout.backward"):
        nn.Dropout(0.5).backward(np.ones(3))
    d.forward(np.ones((2, 3)))
    for g in (np.ones((1, 3)), np.ones(4)):
        with pytest.raises(ValueError, match="grad_output: expected shape \\(2, 3\\)"):
            d.backward(g)
    with nn.inference_mode():  # keeps nothing, and leaves the pending forward alone
        d.forward(np.ones(3))
    with pytest.raises(ValueError, match="grad_output: expected shape \\(2, 3\\)"):
        d.backward(np.ones(3))
    d.backward(np.ones((2, 3)))
    with pytest.raises(RuntimeError, match="Dropout.backward: no forward"):  # once per forward
        d.backward(np.ones((2, 3)))


def test_cross_entropy_checks_mask_grad_and_logits():
    z, t = np.zeros((2, 3)), np.array([0, 1])
    loss = nn.CrossEntropyLoss()
    for mask, what in ((np.array([np.nan, 1.0]), "finite"), (np.array([-1.0, 1.0]), ">= 0"),
                       (np.array(["a", "b"]), "dtype"), (np.array([1.0]), "shape")):
        with pytest.raises(ValueError, match=f"mask: .*{what}"):
            loss.forward(z, t, mask=mask)
    loss.forward(z, t, mask=np.array([True, False]))
    for grad in (np.ones(2), "a", float("nan")):
        with pytest.raises(ValueError, match="grad: "):
            loss.backward(grad)
    assert loss.backward(np.float32(2.0)).shape == (2, 3)
    none = nn.CrossEntropyLoss(reduction="none")
    none.forward(np.zeros((4, 5)), np.array([1, 2, 3, 4]))
    for grad in (np.ones(3), np.ones((2, 1, 1)), 1.0, np.array([1, np.inf, 1, 1])):
        with pytest.raises(ValueError, match="grad: "):
            none.backward(grad)
    with pytest.raises(ValueError, match="logits: .*scalar"):
        loss.forward(1.0, np.array(0))
    with pytest.raises(ValueError, match="logits: .*class"):
        loss.forward(np.zeros((2, 0)), np.array([-100, -100]))
    with pytest.raises(ValueError, match="x: .*scalar"):
        nn.Linear(3, 2).forward(1.0)


@pytest.mark.parametrize("make", [lambda: nn.Linear(3, 2), lambda: nn.Embedding(5, 3)])
def test_linear_and_embedding_backward_once_per_forward(make):
    m = make()
    x = np.ones((2, 3), np.float32) if isinstance(m, nn.Linear) else np.array([1, 1])
    g = np.ones((2, 2 if isinstance(m, nn.Linear) else 3), np.float32)
    m.forward(x)
    m.backward(g)
    grads = [p.grad.copy() for p in m.parameters()]
    with pytest.raises(RuntimeError, match="backward was already called"):
        m.backward(g)
    assert all(np.array_equal(a, p.grad) for a, p in zip(grads, m.parameters()))
    with nn.inference_mode():
        m.forward(x)
    with pytest.raises(RuntimeError, match="inference_mode"):
        m.backward(g)


# ---------------------------------------------------------------- stale weights
def _run(m):
    if isinstance(m, nn.Embedding):
        return m.forward(np.array([1, 2])), lambda out: m.backward(np.ones_like(out))
    x = np.ones((2, 1, 3) if isinstance(m, nn.RNNBase) else (2, 3), np.float32)
    out = m.forward(x)
    out = out[0] if isinstance(m, nn.RNNBase) else out
    return out, lambda out: m.backward(np.ones_like(out))


@pytest.mark.parametrize("cls", [nn.RNN, nn.LSTM, nn.GRU, nn.Linear, nn.Embedding])
@pytest.mark.parametrize("change", ["step", "load_state_dict", "data"])
def test_backward_after_the_weights_changed_raises(cls, change):
    m = cls(4, 3) if cls is nn.Embedding else cls(3, 4)
    opt = optim.SGD(m.parameters(), lr=0.1)
    out, back = _run(m)
    back(out)  # fills the gradients
    out, back = _run(m)
    if change == "step":
        opt.step()
    elif change == "load_state_dict":
        m.load_state_dict(m.state_dict())
    else:
        p = next(m.parameters())
        p.data = p.data * 2
    with pytest.raises(RuntimeError, match="modified .* run forward again"):
        back(out)
    out, back = _run(m)  # a new forward: fine again
    back(out)


# ---------------------------------------------------------------- optimisers
def test_optimizer_refuses_duplicate_parameters_and_bad_groups():
    lin = nn.Linear(2, 2)
    for params in ([lin.weight, lin.weight], [{"params": [lin.weight]}, {"params": [lin.weight, lin.bias]}]):
        with pytest.raises(ValueError, match="more than one parameter group"):
            optim.SGD(params, lr=0.1)
    with pytest.raises(ValueError, match="params\\[0\\]: .*'params'"):
        optim.SGD([{"lr": 0.1}], lr=0.1)


@pytest.mark.parametrize("cls, kw, name", [
    (optim.SGD, dict(lr=float("nan")), "lr"), (optim.SGD, dict(lr=-1), "lr"),
    (optim.SGD, dict(lr="a"), "lr"), (optim.SGD, dict(lr=None), "lr"),
    (optim.SGD, dict(lr=0.1, momentum=float("nan")), "momentum"),
    (optim.SGD, dict(lr=0.1, momentum=-1), "momentum"),
    (optim.SGD, dict(lr=0.1, weight_decay=float("nan")), "weight_decay"),
    (optim.Adam, dict(eps=float("nan")), "eps"), (optim.Adam, dict(eps=-1), "eps"),
    (optim.Adam, dict(betas=(0.9,)), "betas"), (optim.Adam, dict(betas=0.9), "betas"),
    (optim.Adam, dict(betas=(0.9, 1.0)), "betas"), (optim.AdamW, dict(betas=(-0.1, 0.9)), "betas"),
    (optim.AdamW, dict(betas=(float("nan"), 0.9)), "betas"),
])
def test_optimizer_hyperparameters_are_checked(cls, kw, name):
    with pytest.raises((ValueError, TypeError), match=f"^{name}: "):
        cls(nn.Linear(2, 2).parameters(), **kw)
    with pytest.raises((ValueError, TypeError), match=f"^{name}: "):  # per group too
        cls([{"params": nn.Linear(2, 2).parameters(), **kw}], **({"lr": 0.1} if cls is optim.SGD else {}))


def test_optimizer_load_state_dict_checks_groups_params_and_shapes():
    lin = _stepped_linear()
    opt = optim.SGD(lin.parameters(), lr=0.1, momentum=0.9)
    opt.step()
    sd = opt.state_dict()
    with pytest.raises(ValueError, match="'state' and 'param_groups'"):
        opt.load_state_dict({})
    with pytest.raises(ValueError, match="parameter groups"):
        optim.SGD([{"params": [lin.weight]}, {"params": [lin.bias]}], lr=0.1).load_state_dict(sd)
    with pytest.raises(ValueError, match="group 0 has 2 parameters"):
        optim.SGD([lin.bias], lr=0.1, momentum=0.9).load_state_dict(sd)
    other = nn.Linear(3, 2)
    opt3 = optim.SGD(other.parameters(), lr=0.5, momentum=0.9)
    with pytest.raises(ValueError, match="momentum_buffer.*shape"):
        opt3.load_state_dict(sd)
    assert opt3.param_groups[0]["lr"] == 0.5 and not opt3.state  # nothing changed
    opt2 = optim.SGD(lin.parameters(), lr=0.5, momentum=0.9)
    opt2.load_state_dict(sd)
    assert opt2.param_groups[0]["lr"] == 0.1


def test_clip_grad_arguments():
    lin = _stepped_linear()
    for kw, name in ((dict(max_norm=-1), "max_norm"),
                     (dict(max_norm=float("nan")), "max_norm"), (dict(max_norm=1, norm_type=float("nan")), "norm_type"),
                     (dict(max_norm=1, norm_type="fro"), "norm_type")):
        with pytest.raises((ValueError, TypeError), match=f"^{name}: "):
            nn.clip_grad_norm_(lin.parameters(), **kw)
    for c in (-1, float("nan"), "a"):
        with pytest.raises((ValueError, TypeError), match="^clip_value: "):
            nn.clip_grad_value_(lin.parameters(), c)
    g = lin.weight.grad.copy()
    assert nn.clip_grad_norm_(lin.parameters(), float("inf")) > 0
    assert np.array_equal(lin.weight.grad, g)  # inf: no clipping
    nn.clip_grad_value_(lin.parameters(), float("inf"), foreach=None)
    assert np.array_equal(lin.weight.grad, g)  # inf: no clipping, as in torch


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 0.5, 3.0, 0.0, -1.0, float("inf"), -float("inf")])
def test_clip_grad_norm_types_match_torch(norm_type):
    torch = pytest.importorskip("torch")
    grads = [np.array([3.0, -4.0, 0.0], np.float32), np.array([[0.5, 0.0], [0.0, -0.25]], np.float32)]
    ps = [nn.Parameter(np.zeros_like(g)) for g in grads]
    ts = [torch.nn.Parameter(torch.zeros(g.shape)) for g in grads]
    for p, t, g in zip(ps, ts, grads):
        p.grad[...] = g
        t.grad = torch.from_numpy(g.copy())
    total = nn.clip_grad_norm_(ps, 1.0, norm_type=norm_type)
    ref = torch.nn.utils.clip_grad_norm_(ts, 1.0, norm_type=norm_type)
    assert abs(total - ref.item()) <= 1e-6 * max(1.0, abs(ref.item()))
    for p, t in zip(ps, ts):
        assert np.allclose(p.grad, t.grad.numpy(), rtol=1e-6, atol=0)


def test_clip_grad_norm_error_if_nonfinite():
    lin = _stepped_linear()
    lin.weight.grad[0, 0] = np.inf
    g = lin.weight.grad.copy()
    with pytest.raises(RuntimeError, match="clip_grad_norm_: the total norm of order 2.0 .* inf"):
        nn.clip_grad_norm_(lin.parameters(), 1.0, error_if_nonfinite=True)
    assert np.array_equal(lin.weight.grad, g)


def test_clip_grad_norm_with_a_nan_gradient_matches_torch():
    lin = _stepped_linear()
    lin.weight.grad[0, 0] = np.nan
    assert np.isnan(nn.clip_grad_norm_(lin.parameters(), 1.0))
    assert np.isnan(lin.weight.grad).all() and np.isnan(lin.bias.grad).all()
    torch = pytest.importorskip("torch")
    t = torch.nn.Linear(2, 2)
    t.weight.grad = torch.ones(2, 2)
    t.weight.grad[0, 0] = float("nan")
    t.bias.grad = torch.ones(2)
    assert torch.isnan(torch.nn.utils.clip_grad_norm_(t.parameters(), 1.0))
    assert torch.isnan(t.bias.grad).all()


def test_values_pytorch_accepts_are_accepted():
    lin = _stepped_linear()
    nn.clip_grad_norm_(lin.parameters(), 0)  # max_norm 0 zeroes the gradients, as in torch
    assert not lin.weight.grad.any() and not lin.bias.grad.any()
    opt = optim.SGD(lin.parameters(), lr=0.1)
    assert optim.StepLR(opt, 10.0).step_size == 10  # a whole float step size, as torch takes
    d = nn.Dropout(0.5).eval()  # nothing to mask: any input passes through unchanged
    ints = np.arange(4)
    assert d.forward(ints) is not None and np.array_equal(d.forward(ints), ints)
    assert np.array_equal(nn.Dropout(0.0).forward(ints), ints)


def test_parameters_pickled_before_data_was_a_property_still_load():
    import pickle
    p = nn.Parameter(np.arange(3, dtype=np.float32))
    assert np.array_equal(pickle.loads(pickle.dumps(p)).data, p.data)
    old = nn.Parameter.__new__(nn.Parameter)  # what unpickling an old pickle does
    old.__setstate__((None, {"data": np.ones(2, np.float32), "grad": np.zeros(2, np.float32),
                             "requires_grad": True, "sparse": False, "rows": None}))
    assert np.array_equal(old.data, [1, 1]) and old._version == 0
    old.data = np.zeros(2)
    assert old._version == 1 and old.dtype == np.float32


def test_schedule_arguments():
    opt = optim.SGD(nn.Linear(2, 2).parameters(), lr=0.1)
    for make, name in ((lambda: optim.StepLR(opt, 1, gamma=-1), "gamma"),
                       (lambda: optim.StepLR(opt, 1, gamma=0), "gamma"),
                       (lambda: optim.ExponentialLR(opt, 0.0), "gamma"),
                       (lambda: optim.ReduceLROnPlateau(opt, patience=-1), "patience"),
                       (lambda: optim.ReduceLROnPlateau(opt, min_lr=[0.1, 0.2]), "min_lr")):
        with pytest.raises(ValueError, match=f"^{name}: "):
            make()


# ---------------------------------------------------------------- state / save / load
def test_load_state_dict_checks_values_before_copying():
    m = nn.LSTM(3, 4)
    before = m.state_dict()
    sd = {k: np.ones_like(v) for k, v in before.items()}
    sd["bias_hh_l0"] = np.full(16, 1e300)
    with pytest.raises(ValueError, match="bias_hh_l0.*too large"):
        m.load_state_dict(sd)
    assert all(np.array_equal(v, m.state_dict()[k]) for k, v in before.items())  # nothing copied
    for bad in (None, list(before.items())):
        with pytest.raises(TypeError, match="state_dict: expected a mapping"):
            m.load_state_dict(bad)

    class Unreadable:
        def __array__(self, dtype=None, copy=None):
            raise RuntimeError("unsupported ScalarType")

    with pytest.raises(ValueError, match="bias_ih_l0"):
        m.load_state_dict({**before, "bias_ih_l0": Unreadable()})
    torch = pytest.importorskip("torch")
    t = torch.nn.LSTM(3, 4).to(torch.bfloat16)
    m.load_state_dict(t.state_dict())  # NumPy has no bfloat16: read as float32 (exact)
    assert np.array_equal(m.weight_ih_l0.data, t.weight_ih_l0.detach().float().numpy())


def test_save_accepts_numpy_scalars_in_configs(tmp_path):
    emb = nn.Embedding(np.int64(5), 2, padding_idx=np.int64(-1))
    opt = optim.SGD(emb.parameters(), lr=np.float32(0.5), momentum=np.float64(0.9))
    nn.save({"emb": emb, "opt": opt}, tmp_path / "m.npz")
    emb2 = nn.Embedding(5, 2, padding_idx=4, seed=1)
    opt2 = optim.SGD(emb2.parameters(), lr=0.1, momentum=0.9)
    nn.load(tmp_path / "m.npz", {"emb": emb2, "opt": opt2})
    assert np.array_equal(emb.weight.data, emb2.weight.data) and opt2.param_groups[0]["lr"] == 0.5


def _npz(path, **arrays):
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def _meta(obj):
    return np.frombuffer(json.dumps(obj).encode(), np.uint8)


BAD_FILES = {
    "garbage": lambda p: p.write_bytes(b"garbage" * 10),
    "empty": lambda p: p.write_bytes(b""),
    "npy": lambda p: np.save(open(p, "wb"), np.zeros(3)),
    "plain_npz": lambda p: _npz(p, a=np.zeros(3)),
    "bad_json": lambda p: _npz(p, __meta__=np.frombuffer(b"{not json", np.uint8)),
    "bad_utf8": lambda p: _npz(p, __meta__=np.frombuffer(b"\xff\xfe", np.uint8)),
    "meta_2d": lambda p: _npz(p, __meta__=np.zeros((2, 2), np.uint8)),
    "meta_list": lambda p: _npz(p, __meta__=_meta([1, 2])),
    "no_objects": lambda p: _npz(p, __meta__=_meta({"format": "fastseq-nn", "version": 1})),
    "no_class": lambda p: _npz(p, __meta__=_meta({"format": "fastseq-nn", "version": 1,
                                                  "objects": {"model": {"kind": "module"}}})),
}


@pytest.mark.parametrize("kind", [*BAD_FILES, "truncated"])
def test_load_of_a_foreign_or_damaged_file_is_one_value_error(tmp_path, kind):
    path = tmp_path / "bad.npz"
    if kind == "truncated":
        nn.save(nn.Linear(2, 2), path)
        data = path.read_bytes()
        path.write_bytes(data[:len(data) // 2])
    else:
        BAD_FILES[kind](path)
    with pytest.raises(ValueError, match=f"^{path}: not a fastseq.nn file \\(.+\\)$"):
        nn.load(path, nn.Linear(2, 2))


def test_save_errors_name_the_path_given(tmp_path):
    path = tmp_path / "nodir" / "m.npz"
    with pytest.raises(FileNotFoundError, match=str(path)):
        nn.save(nn.Linear(2, 2), path)
    with pytest.raises(IsADirectoryError, match=str(tmp_path)):
        nn.save(nn.Linear(2, 2), tmp_path)
    assert list(tmp_path.iterdir()) == []  # no temporary file left behind


def test_parameter_data_assignment():
    m = nn.RNN(3, 4)
    x = np.ones((2, 1, 3), np.float32)
    m.weight_hh_l0.data = np.full((4, 4), 0.5)  # float64 into a float32 parameter: converted
    assert m.weight_hh_l0.dtype == np.float32 and m.weight_hh_l0.data[0, 0] == 0.5
    m.weight_hh_l0.data = np.zeros((4, 8), np.float32)[:, ::2]  # non-contiguous: made contiguous
    assert m.weight_hh_l0.data.flags.c_contiguous
    m.forward(x)
    for bad in (None, np.zeros((3, 3)), "abc"):
        with pytest.raises(ValueError, match="weight_hh_l0.data: "):
            m.weight_hh_l0.data = bad
    m.weight_hh_l0 = nn.Parameter(np.zeros((3, 3), np.float32))
    with pytest.raises(ValueError, match="weight_hh_l0: .*shape \\(4, 4\\)"):
        m.forward(x)
    m.weight_hh_l0 = None
    with pytest.raises(ValueError, match="weight_hh_l0: .*got None"):
        m.forward(x)


# ---------------------------------------------------------------- arguments
def test_constructor_argument_messages():
    for pad in (1.5, "a"):
        with pytest.raises(TypeError, match="padding_idx: expected an integer"):
            nn.Embedding(5, 2, padding_idx=pad)
    assert type(nn.Embedding(5, 2, padding_idx=np.int64(-1)).padding_idx) is int
    with pytest.raises(TypeError, match="ignore_index: expected an integer"):
        nn.CrossEntropyLoss(ignore_index=None)
    assert nn.Dropout(np.float32(0.5)).p == 0.5
    assert nn.GRU(3, 4, num_layers=2, dropout=np.float32(0.5)).dropout == 0.5


def test_dropout_with_one_layer_warns_as_torch():
    with pytest.warns(UserWarning, match="num_layers greater than 1"):
        nn.LSTM(3, 4, dropout=0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nn.LSTM(3, 4, num_layers=2, dropout=0.5)


@pytest.mark.parametrize("lengths, what", [
    ([np.inf, 3.0], "NaN or infinity"), ([np.nan, 3.0], "NaN or infinity"),
    ([1.5, 3.0], "expected whole numbers"),
    (np.array([2**63 + 1, 3], np.uint64), "max 9223372036854775809"),
])
def test_lengths_messages(lengths, what):
    with pytest.raises(ValueError, match=f"^lengths: .*{what}"):
        nn.RNN(3, 4).forward(np.zeros((3, 2, 3), np.float32), lengths=lengths)


def test_input_and_state_messages():
    for shape in ((3,), (2, 2, 2, 3)):
        with pytest.raises(ValueError, match=f"x: expected a 2-D \\(unbatched\\) or 3-D .*{shape}"):
            nn.RNN(3, 4).forward(np.zeros(shape, np.float32))
    z = np.zeros((1, 2, 4), np.float32)
    for hx in ((None, z), (z, None)):
        with pytest.raises(ValueError, match="hx: "):
            nn.LSTM(3, 4).forward(np.zeros((3, 2, 3), np.float32), hx)


def test_sequential_slice_is_a_sequential():
    a, b, c = nn.Linear(2, 3), nn.Dropout(0.1), nn.Linear(3, 2)
    s = nn.Sequential(a, b, c)[1:]
    assert isinstance(s, nn.Sequential) and list(s) == [b, c]
    assert list(s.state_dict()) == ["2.weight", "2.bias"]  # names kept, as in PyTorch


@pytest.mark.parametrize("cls", [nn.RNN, nn.LSTM, nn.GRU])
@pytest.mark.parametrize("batch_first", [False, True])
def test_empty_batch_gives_empty_outputs(cls, batch_first):
    m = cls(3, 4, num_layers=2, bidirectional=True, batch_first=batch_first)
    x = np.zeros((0, 5, 3) if batch_first else (5, 0, 3), np.float32)
    out, h = m.forward(x)
    h_n = h[0] if cls is nn.LSTM else h
    assert out.shape == ((0, 5, 8) if batch_first else (5, 0, 8)) and h_n.shape == (4, 0, 4)
    gx, gh = m.backward(np.zeros_like(out))
    assert gx.shape == x.shape and (gh[0] if cls is nn.LSTM else gh).shape == (4, 0, 4)
    assert not any(p.grad.any() for p in m.parameters())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cls", [nn.LSTM, nn.GRU, nn.RNN])
def test_read_only_inputs_are_read(cls, dtype, tmp_path):
    """np.load(mmap_mode='r'), np.frombuffer and zero-copy dataset arrays are
    read-only: the kernels only read them (they raised Cython's 'buffer source
    array is read-only')."""
    rng = np.random.default_rng(0)
    np.save(tmp_path / "x.npy", rng.standard_normal((5, 2, 3)).astype(dtype))
    x = np.load(tmp_path / "x.npy", mmap_mode="r")
    h = rng.standard_normal((4, 2, 4)).astype(dtype)
    m = cls(3, 4, num_layers=2, bidirectional=True, dtype=dtype, seed=0)
    results = []
    for writable in (True, False):
        xi, hi = (np.array(x), h.copy()) if writable else (x, h.copy())
        hi.flags.writeable = writable
        hx = (hi, hi) if cls is nn.LSTM else hi
        lengths = np.array([5, 3])
        lengths.flags.writeable = writable
        out, _ = m.forward(xi, hx=hx, lengths=lengths)
        go = np.ones_like(out)
        go.flags.writeable = writable
        m.zero_grad()
        gx = m.backward(go)[0]
        results.append((out, gx, m.weight_hh_l0.grad.copy()))
    for a, b in zip(*results):
        assert np.array_equal(a, b)
