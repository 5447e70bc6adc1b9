"""The ``fastseq`` command line: ``fastseq w2v CORPUS -o OUT`` and its siblings.

Each subcommand lives in a ``register(subparsers)`` function; errors are one
line on stderr (``fastseq <cmd>: error: ...``) and a non-zero exit code."""
from __future__ import annotations

import argparse
import contextlib
import math
import os
import select
import signal
import sys
import time
import warnings

from ._threads import INT_MAX as _INT_MAX, MAX_THREADS

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143


class CliError(Exception):
    """An error to report as one line, without a traceback."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (``fastseq w2v: error: ...``), exit 2."""

    def error(self, message):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows "(default: X)" for options that take a value and have a default; not for
    on/off flags (where it read "(default: True)" on both --binary and --text) nor None."""

    def _get_help_string(self, action):
        if action.nargs == 0 or action.default is None:
            return action.help
        return super()._get_help_string(action)


def _number(cast, strict, what, highest=_INT_MAX):
    """An argparse ``type``: ``cast`` the text, then require > 0 (strict=True), >= 0
    (strict=False) or any sign (None); floats finite, ints at most ``highest`` (a C int
    by default)."""
    def convert(text):
        try:
            v = cast(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        in_range = strict is None or (v > 0 if strict else v >= 0)
        if not in_range or (cast is float and not math.isfinite(v)):
            sign = "" if strict is None else (">" if strict else ">=") + " 0"
            need = f"a finite number {sign}".rstrip() if cast is float else sign
            raise argparse.ArgumentTypeError(f"must be {need}, got {text}")
        if cast is int and v > highest:
            raise argparse.ArgumentTypeError(f"must be at most {highest}, got {text}")
        return v
    return convert


_positive_int = _number(int, True, "a positive integer")
_nonneg_int = _number(int, False, "an integer >= 0")
_seed = _number(int, False, "an integer >= 0", highest=2**64 - 1)
_threads = _number(int, True, "a positive integer", highest=MAX_THREADS)
_positive_float = _number(float, True, "a number")
_nonneg_float = _number(float, False, "a number")
_finite_float = _number(float, None, "a number")


# ---------------------------------------------------------------------- w2v
def _register_w2v(sub):
    p = sub.add_parser(
        "w2v", help="train word2vec vectors on a text corpus",
        description="Train word2vec vectors. CORPUS is UTF-8 text (or .gz), one sentence per line, "
                    "words separated by whitespace. Get one e.g. from text8 (a cleaned Wikipedia dump) "
                    "or use --demo to train on a generated corpus.",
        formatter_class=_HelpFormatter)
    p.add_argument("corpus", nargs="?", help="training corpus (text or .gz)")
    p.add_argument("-o", "--output", help="where to write the vectors (default: vectors.bin, or .txt with --text)")
    p.add_argument("--save-model", metavar="PATH", help="also save the full model (to continue training later)")
    p.add_argument("--resume", metavar="MODEL",
                   help="continue training a model saved with --save-model, on CORPUS: the model keeps its "
                        "settings (--epochs, --alpha, --min-alpha, --threads may be given for this run) and "
                        "gains CORPUS's new words that reach its min count, as gensim's "
                        "build_vocab(update=True)")
    p.add_argument("--demo", action="store_true", help="train on a generated corpus instead of CORPUS")
    p.add_argument("--model", choices=["sg", "cbow"], default="sg", help="skip-gram or CBOW")
    p.add_argument("--loss", choices=["ns", "hs", "both"], default="ns",
                   help="negative sampling, hierarchical softmax, or both")
    p.add_argument("--dim", type=_positive_int, default=100, help="vector size")
    p.add_argument("--window", type=_positive_int, default=5, help="max context distance")
    p.add_argument("--negative", type=_nonneg_int, default=5, help="negative samples per positive")
    p.add_argument("--ns-exponent", type=_finite_float, default=0.75, help="noise distribution: count^x")
    p.add_argument("--sample", type=_nonneg_float, default=1e-3,
                   help="subsampling threshold: a fraction of the corpus, or from 1 up a count, as in "
                        "gensim (0 = off)")
    p.add_argument("--min-count", type=_nonneg_int, default=5, help="ignore rarer words (0 keeps all)")
    p.add_argument("--max-vocab-size", type=_positive_int, default=None,
                   help="prune rare words while counting when the vocabulary grows past this")
    p.add_argument("--max-final-vocab", type=_positive_int, default=None, help="keep at most this many words")
    p.add_argument("--epochs", type=_positive_int, default=5, help="passes over the corpus")
    p.add_argument("--alpha", type=_positive_float, default=None,
                   help="start learning rate (default 0.025 for sg, 0.05 for cbow)")
    p.add_argument("--min-alpha", type=_nonneg_float, default=None,
                   help="final learning rate (default 0.0001, or --alpha if that is lower)")
    p.add_argument("--cbow-sum", action="store_true",
                   help="CBOW: sum context vectors instead of averaging (each then gets 1/n of the error, "
                        "as in gensim)")
    p.add_argument("--no-shrink-windows", dest="shrink_windows", action="store_false",
                   help="always use the whole --window (default: draw each word's window from 1 to "
                        "--window, as word2vec.c and gensim do)")
    p.add_argument("--threads", type=_threads, default=None, help="threads (default: all cores)")
    p.add_argument("--seed", type=_seed, default=1, help="random seed")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--binary", dest="binary", action="store_true", default=True,
                     help="word2vec binary output")
    fmt.add_argument("--text", dest="binary", action="store_false", help="word2vec text output")
    p.add_argument("--unicode-errors", choices=["strict", "replace", "ignore"], default="strict",
                   help="invalid UTF-8 in the corpus: stop with an error, or replace/skip the bytes")
    p.add_argument("--no-shared-negatives", dest="shared_negatives", action="store_false",
                   help="skip-gram: draw negatives per (word, context) pair instead of per window")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    for action in p._actions:
        _record_explicit(action)
    p.set_defaults(func=_cmd_w2v)


def _record_explicit(action):
    """Make ``action`` note its option string in ``namespace.explicit`` when given on
    the command line (argparse keeps no record of which values are defaults)."""
    base = type(action)

    class Recorded(base):
        def __call__(self, parser, namespace, values, option_string=None):
            given = getattr(namespace, "explicit", None) or {}
            given[self.dest] = option_string or self.dest
            namespace.explicit = given
            super().__call__(parser, namespace, values, option_string)

    action.__class__ = Recorded


# flags that make the model; a resumed model keeps its own
_MODEL_FLAGS = ("model", "loss", "dim", "window", "negative", "ns_exponent", "sample", "min_count",
                "max_vocab_size", "max_final_vocab", "cbow_sum", "shrink_windows", "seed", "shared_negatives")


def _cmd_w2v(args):
    from .word2vec import Word2Vec

    if args.demo == bool(args.corpus):
        raise CliError("give a CORPUS file or --demo (not both)")
    if args.resume is not None:
        return _resume_w2v(args)
    if args.negative == 0 and args.loss == "ns":
        raise CliError("--negative 0 with --loss ns leaves nothing to train (use --loss hs or both)")
    output = _check_outputs(args)
    corpus = args.corpus
    tmp_demo = None
    if args.demo:
        import tempfile
        from .demo import write_demo_corpus
        fd, tmp_demo = tempfile.mkstemp(prefix="fastseq-demo-", suffix=".txt")
        os.close(fd)
        write_demo_corpus(tmp_demo)
        corpus = tmp_demo
    sg = args.model == "sg"
    alpha = args.alpha if args.alpha is not None else (0.025 if sg else 0.05)
    if args.min_alpha is None:
        min_alpha = min(0.0001, alpha)
    else:
        min_alpha = args.min_alpha
    try:
        t0 = time.perf_counter()
        model = Word2Vec(
            vector_size=args.dim, window=args.window, min_count=args.min_count,
            max_vocab_size=args.max_vocab_size, max_final_vocab=args.max_final_vocab,
            sample=args.sample, seed=args.seed, workers=args.threads, alpha=alpha,
            min_alpha=min_alpha, sg=int(sg), hs=int(args.loss in ("hs", "both")),
            negative=args.negative if args.loss in ("ns", "both") else 0, ns_exponent=args.ns_exponent,
            cbow_mean=0 if args.cbow_sum else 1, epochs=args.epochs,
            shared_negatives=args.shared_negatives, progress=not args.quiet,
            unicode_errors=args.unicode_errors, shrink_windows=args.shrink_windows)
        model.build_vocab(corpus_file=corpus)
        model.train(corpus_file=corpus)
        _write_outputs(args, model, output)
    finally:
        if tmp_demo:
            os.unlink(tmp_demo)
    _report(args, model, t0, f"trained {model.raw_words_trained:,} words ({model.epochs} epochs x "
                             f"{model.vocab.raw_words:,})", f"vocabulary {len(model.vocab):,} words", output)
    return 0


def _resume_w2v(args):
    from .word2vec import Word2Vec

    given = getattr(args, "explicit", None) or {}
    fixed = [given[d] for d in _MODEL_FLAGS if d in given]
    if args.demo:
        raise CliError("--resume: give the CORPUS to continue training on (not --demo)")
    if fixed:
        raise CliError(f"{fixed[0]}: a resumed model keeps the setting it was trained with "
                       f"(--resume {args.resume})")
    output = _check_outputs(args, resumed=args.resume)
    t0 = time.perf_counter()
    model = Word2Vec.load(args.resume)
    model.workers = args.threads
    model.progress = not args.quiet
    if "unicode_errors" in given:
        model.unicode_errors = args.unicode_errors
    epochs = args.epochs if "epochs" in given else model.epochs
    n_old = len(model.vocab)
    model.build_vocab(corpus_file=args.corpus, update=True)
    model.train(corpus_file=args.corpus, epochs=epochs, start_alpha=args.alpha,
                end_alpha=args.min_alpha)
    _write_outputs(args, model, output)
    _report(args, model, t0, f"resumed {args.resume}: trained {model.raw_words_trained:,} words ({epochs} epochs)",
            f"vocabulary {len(model.vocab):,} words ({len(model.vocab) - n_old:,} new)", ", ".join(args.written))
    return 0


def _check_outputs(args, resumed=None):
    """The vectors' path; refuses, before any work, outputs that are empty, the same
    file twice, the corpus, the model being resumed, or not writable."""
    from ._atomic import check_writable
    if args.output == "" or args.save_model == "":
        raise CliError(f"{'--output' if args.output == '' else '--save-model'}: empty path")
    output = args.output if args.output is not None else ("vectors.bin" if args.binary else "vectors.txt")
    if resumed is not None and _same_file(output, resumed):
        raise CliError(f"--output {output}: that is the model being resumed (--save-model {output} "
                       "updates it)")
    check_writable(output)
    if args.save_model:
        check_writable(args.save_model)
        if _same_file(output, args.save_model):
            raise CliError(f"--save-model {args.save_model}: the same file as --output {output}")
    for path, what in ((output, "--output"), (args.save_model, "--save-model")):
        if path and args.corpus and _same_file(path, args.corpus):
            raise CliError(f"{what} {path}: that is the corpus; writing there would destroy it")
    return output


def _write_outputs(args, model, output):
    model.wv.save_word2vec_format(output, binary=args.binary)
    args.written = [output]
    if args.save_model:
        model.save(args.save_model)
        args.written.append(args.save_model)


def _report(args, model, t0, trained, vocabulary, wrote):
    """The summary line on stderr."""
    total = time.perf_counter() - t0
    losses = " ".join(f"{l / max(n, 1):.4f}" for l, n in zip(model.epoch_losses, model.epoch_examples))
    print(f"fastseq w2v: {trained} in {model.train_seconds:.2f} s, "
          f"{model.raw_words_trained / max(model.train_seconds, 1e-9):,.0f} words/s; {vocabulary}; "
          f"total {total:.2f} s; loss/epoch {losses}; wrote {wrote}", file=sys.stderr)


def _same_file(a, b):
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist yet
        return os.path.realpath(a) == os.path.realpath(b)


# ---------------------------------------------------------------------- main
from .cli_vectors import register as _register_vectors  # noqa: E402  (similar/analogy/eval/convert/plot)

_REGISTRY = [_register_w2v, _register_vectors]


def build_parser():
    from . import __version__
    parser = _Parser(prog="fastseq", description="Fast CPU word2vec and recurrent networks.")
    parser.add_argument("--version", action="version", version=f"fastseq {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for register in _REGISTRY:
        register(sub)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    prog = f"fastseq {args.command}"
    # kill (SIGTERM) unwinds like Ctrl-C: temporary files go, existing outputs stay
    # (unless the caller chose to ignore SIGTERM)
    previous = None
    if _main_thread() and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _warning_printer(prog)
            return args.func(args) or 0
    except KeyboardInterrupt as e:
        written = getattr(args, "written", [])
        what = f"wrote only {', '.join(written)}" if written else "no output written"
        print(f"{prog}: {'terminated' if isinstance(e, _Terminated) else 'interrupted'}; {what}",
              file=sys.stderr)
        return EXIT_TERMINATED if isinstance(e, _Terminated) else EXIT_INTERRUPTED
    except BrokenPipeError as e:
        if not _stdout_closed():
            print(f"{prog}: error: broken pipe: the reader of an output closed it ({e})", file=sys.stderr)
            return EXIT_ERROR
        # the reader of stdout went away (fastseq similar ... | head): nothing more to say to
        # it, and no second error when Python flushes stdout at exit
        with contextlib.suppress(OSError):
            fd = os.open(os.devnull, os.O_WRONLY)
            os.dup2(fd, sys.stdout.fileno())
            os.close(fd)
        return EXIT_ERROR
    except (CliError, ValueError, OSError, FloatingPointError, MemoryError) as e:
        msg = str(e) or type(e).__name__
        if isinstance(e, OSError) and e.filename and str(e.filename) not in msg:
            msg = f"{e.filename}: {e.strerror or msg}"
        elif isinstance(e, OSError) and e.filename is None and e.strerror:
            msg = e.strerror  # ours name their file already: no "[Errno N]" in front
        written = getattr(args, "written", [])
        if written:  # e.g. --save-model failed after -o was written
            msg += f" (already wrote {', '.join(written)})"
        print(f"{prog}: error: {msg}", file=sys.stderr)
        return EXIT_ERROR
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _warning_printer(prog):
    """Warnings as one line each, like the errors: "fastseq w2v: warning: ..."."""
    def show(message, category, filename, lineno, file=None, line=None):
        print(f"{prog}: warning: {message}", file=sys.stderr if file is None else file)
    return show


class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread so that cleanup runs as for Ctrl-C."""


def _on_sigterm(signum, frame):
    raise _Terminated()


def _stdout_closed():
    """Whether stdout is a pipe whose reader has gone (poll reports an error on it)."""
    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        return any(ev & (select.POLLERR | select.POLLHUP) for _, ev in poller.poll(0))
    except (OSError, ValueError, AttributeError):
        return False


def _main_thread():
    import threading
    return threading.current_thread() is threading.main_thread()


if __name__ == "__main__":
    sys.exit(main())
