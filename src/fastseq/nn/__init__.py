"""fastseq.nn: recurrent networks on CPU with PyTorch's API and explicit backward.

Modules (``RNN``, ``LSTM``, ``GRU``, ``Embedding``, ``Linear``, ``Dropout``,
``CrossEntropyLoss``, ``Sequential``; ``ModuleList`` / ``ModuleDict`` hold
others) hold NumPy parameters under PyTorch's names; ``forward`` computes,
``backward(grad_output)`` returns the input gradient and accumulates into each
``param.grad``. The recurrent layers run on
the C kernels in csrc/fs_rnn.c with ``fastseq.get_num_threads()`` threads."""
from . import optim
from .layers import CrossEntropyLoss, Dropout, Embedding, Linear
from .module import (Module, ModuleDict, ModuleList, Parameter, Sequential, inference_mode,
                     is_inference_mode)
from .optim import clip_grad_norm_, clip_grad_value_
from .rnn import GRU, LSTM, RNN, RNNBase
from .serialization import load, save

__all__ = ["Module", "ModuleList", "ModuleDict", "Parameter", "Sequential", "inference_mode",
           "is_inference_mode", "RNNBase", "RNN", "LSTM", "GRU",
           "Embedding", "Linear", "Dropout", "CrossEntropyLoss", "optim", "clip_grad_norm_",
           "clip_grad_value_", "save", "load"]
