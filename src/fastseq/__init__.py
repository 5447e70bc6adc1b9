"""fastseq: fast CPU word embeddings (word2vec) and recurrent networks."""
from ._threads import get_num_threads, set_num_threads
from .keyedvectors import KeyedVectors
from .word2vec import Word2Vec
from . import nn

__version__ = "0.1.0"
__all__ = ["Word2Vec", "KeyedVectors", "set_num_threads", "get_num_threads", "__version__"]
