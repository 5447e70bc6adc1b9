"""Parity with PyTorch (skipped when torch is not installed): the same weights and
inputs give the same outputs, final states and gradients, to float32 rounding."""
import numpy as np
import pytest

from fastseq import nn
from reference_rnn import RTOL, rel_err
from test_rnn_kernels import MODES, make

torch = pytest.importorskip("torch")

FWD, GRAD = RTOL["float32"]["forward"], RTOL["float32"]["grad"]


def torch_twin(m, mode):
    kw = dict(num_layers=m.num_layers, bias=m.bias, batch_first=m.batch_first,
              bidirectional=m.bidirectional)
    if mode == "LSTM":
        t = torch.nn.LSTM(m.input_size, m.hidden_size, **kw)
    elif mode == "GRU":
        t = torch.nn.GRU(m.input_size, m.hidden_size, **kw)
    else:
        t = torch.nn.RNN(m.input_size, m.hidden_size, nonlinearity=m.nonlinearity, **kw)
    # fastseq -> torch (numpy arrays), then torch -> fastseq (tensors, via __array__)
    t.load_state_dict({k: torch.from_numpy(v) for k, v in m.state_dict().items()})
    m.load_state_dict(t.state_dict())
    return t


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("bidir", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("varlen", [False, True])
def test_matches_torch(mode, layers, bidir, batch_first, varlen):
    torch.manual_seed(0)
    rng = np.random.default_rng(layers * 8 + bidir * 4 + batch_first * 2 + varlen)
    T, B, I, H = 7, 6, 5, 20
    m = make(mode, I, H, num_layers=layers, bidirectional=bidir, batch_first=batch_first, seed=3)
    t = torch_twin(m, mode)
    D = 2 if bidir else 1
    x = rng.standard_normal((B, T, I) if batch_first else (T, B, I)).astype(np.float32)
    h0 = rng.standard_normal((layers * D, B, H)).astype(np.float32)
    c0 = rng.standard_normal((layers * D, B, H)).astype(np.float32)
    lengths = np.array([7, 7, 5, 3, 2, 1]) if varlen else None  # sorted, as packing wants
    hx = (h0, c0) if mode == "LSTM" else h0

    xt = torch.tensor(x, requires_grad=True)
    h0t = torch.tensor(h0, requires_grad=True)
    c0t = torch.tensor(c0, requires_grad=True)
    hxt = (h0t, c0t) if mode == "LSTM" else h0t
    if varlen:
        packed = torch.nn.utils.rnn.pack_padded_sequence(xt, torch.tensor(lengths), batch_first=batch_first)
        ot, st = t(packed, hxt)
        ot, _ = torch.nn.utils.rnn.pad_packed_sequence(ot, batch_first=batch_first, total_length=T)
    else:
        ot, st = t(xt, hxt)
    out, state = m.forward(x, hx=hx, lengths=lengths)

    assert rel_err(out, ot.detach().numpy()) <= FWD
    if mode == "LSTM":
        assert rel_err(state[0], st[0].detach().numpy()) <= FWD
        assert rel_err(state[1], st[1].detach().numpy()) <= FWD
    else:
        assert rel_err(state, st.detach().numpy()) <= FWD

    go = rng.standard_normal(out.shape).astype(np.float32)
    gh = rng.standard_normal(h0.shape).astype(np.float32)
    gc = rng.standard_normal(c0.shape).astype(np.float32)
    if mode == "LSTM":
        loss = (ot * torch.from_numpy(go)).sum() + (st[0] * torch.from_numpy(gh)).sum() \
            + (st[1] * torch.from_numpy(gc)).sum()
    else:
        loss = (ot * torch.from_numpy(go)).sum() + (st * torch.from_numpy(gh)).sum()
    loss.backward()
    m.zero_grad()
    if mode == "LSTM":
        gx, (gh0, gc0) = m.backward(go, gh, gc)
        assert rel_err(gc0, c0t.grad.numpy()) <= GRAD
    else:
        gx, gh0 = m.backward(go, gh)
    assert rel_err(gx, xt.grad.numpy()) <= GRAD
    assert rel_err(gh0, h0t.grad.numpy()) <= GRAD
    tp = dict(t.named_parameters())
    names = [n for n, _ in m.named_parameters()]
    assert names == list(tp)
    for name, p in m.named_parameters():
        assert rel_err(p.grad, tp[name].grad.numpy()) <= GRAD, name


@pytest.mark.parametrize("mode", MODES)
def test_unsorted_lengths_match_torch(mode):
    """Any order of lengths works (torch needs enforce_sorted=False for it)."""
    rng = np.random.default_rng(9)
    T, B, I, H = 6, 5, 4, 16
    m = make(mode, I, H, bidirectional=True, seed=5)
    t = torch_twin(m, mode)
    x = rng.standard_normal((T, B, I)).astype(np.float32)
    lengths = np.array([2, 6, 1, 4, 6])
    packed = torch.nn.utils.rnn.pack_padded_sequence(torch.from_numpy(x), torch.tensor(lengths),
                                                     enforce_sorted=False)
    ot, st = t(packed)
    ot, _ = torch.nn.utils.rnn.pad_packed_sequence(ot, total_length=T)
    out, state = m.forward(x, lengths=lengths)
    assert rel_err(out, ot.detach().numpy()) <= FWD
    hn = state[0] if mode == "LSTM" else state
    assert rel_err(hn, (st[0] if mode == "LSTM" else st).detach().numpy()) <= FWD


def test_dropout_only_between_layers_and_only_in_training():
    """Training mode: inverted dropout (keep 1-p, scale 1/(1-p)) on the input of
    every layer but the first; eval mode: none, and the result is PyTorch's."""
    p = 0.3
    m = nn.LSTM(3, 64, num_layers=2, dropout=p, seed=0)
    t = torch_twin(m, "LSTM")
    x = np.random.default_rng(1).standard_normal((20, 8, 3)).astype(np.float32)
    m.forward(x)
    ctx = m._ctx["layers"]
    assert ctx[0]["mask"] is None
    mask = ctx[1]["mask"]
    assert set(np.unique(mask)) == {0.0, np.float32(1 / (1 - p))}
    assert abs((mask == 0).mean() - p) < 0.03
    m.eval()
    t.eval()
    ot, _ = t(torch.from_numpy(x))
    out, _ = m.forward(x)
    assert m._ctx["layers"][1]["mask"] is None
    assert rel_err(out, ot.detach().numpy()) <= FWD


def test_larger_shapes_match_torch():
    """Shapes that use full micro-tiles and both threads (rows and chunks split)."""
    rng = np.random.default_rng(11)
    # batch 1 with w_hh >= 512 KiB, and short runs of small batches (T * B <= 8, 24 with
    # w_hh >= 2 MiB, 32 from 8 MiB): the dot-product forward, then backward from its workspace
    for mode, T, B, H in (("LSTM", 12, 64, 160), ("GRU", 12, 1, 160), ("RNN_TANH", 12, 16, 160),
                          ("LSTM", 12, 1, 370), ("GRU", 12, 1, 370), ("RNN_RELU", 12, 1, 370),
                          ("LSTM", 2, 4, 160), ("GRU", 1, 8, 160), ("LSTM", 2, 12, 740),
                          ("GRU", 3, 8, 740), ("RNN_TANH", 2, 11, 740), ("LSTM", 1, 32, 740)):
        m = make(mode, 48, H, seed=2)
        t = torch_twin(m, mode)
        x = rng.standard_normal((T, B, 48)).astype(np.float32)
        xt = torch.tensor(x, requires_grad=True)
        ot, _ = t(xt)
        out, _ = m.forward(x)
        assert rel_err(out, ot.detach().numpy()) <= FWD
        go = rng.standard_normal(out.shape).astype(np.float32)
        (ot * torch.from_numpy(go)).sum().backward()
        m.zero_grad()
        gx = m.backward(go)[0]
        assert rel_err(gx, xt.grad.numpy()) <= GRAD
        tp = dict(t.named_parameters())
        for name, p in m.named_parameters():
            assert rel_err(p.grad, tp[name].grad.numpy()) <= GRAD, name
