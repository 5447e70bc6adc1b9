"""``fastseq similar / analogy / eval / convert / plot``: using word vectors from the
command line. VECTORS is any file ``KeyedVectors.load`` reads (format found by content).

``similar`` and ``analogy`` without query words read queries from standard input,
one per line, like word2vec.c's ``distance`` and ``word-analogy``: interactively
with a prompt, or piped; piped queries that arrive together are answered
together (one matrix product)."""
from __future__ import annotations

import argparse
import json
import math
import os
import sys


def _add_load_options(p):
    from .cli import _positive_int

    p.add_argument("vectors", metavar="VECTORS",
                   help="word vectors: word2vec .bin/.txt, fastText .vec, GloVe .txt, fastseq native, "
                        "or a fastseq model (format found by content; .gz/.bz2 too)")
    p.add_argument("--limit", type=_positive_int, default=None, metavar="N",
                   help="use only the first N vectors (the most frequent words)")
    p.add_argument("--unicode-errors", choices=["strict", "replace", "ignore"], default="strict",
                   help="invalid UTF-8 in a word: stop with an error, or replace/drop the bytes")


def _load(args):
    from .keyedvectors import KeyedVectors
    return KeyedVectors.load(args.vectors, limit=args.limit, unicode_errors=args.unicode_errors)


def _one_line_errors(cmd):
    """Unknown words (KeyError) and missing optional packages become one-line CLI errors."""
    def run(args):
        from .cli import CliError
        from .plot import MissingDependency
        try:
            return cmd(args)
        except KeyError as e:
            raise CliError(e.args[0] if e.args else "unknown word") from None
        except MissingDependency as e:
            raise CliError(str(e)) from None
    return run


def _add_query_options(p, topn):
    from .cli import _positive_int

    p.add_argument("-n", "--topn", type=_positive_int, default=topn, help="how many answers")
    p.add_argument("--restrict-vocab", type=_positive_int, default=None, metavar="N",
                   help="search only the first N words")
    p.add_argument("--json", action="store_true", help="one JSON object per query")


def register(sub):
    """Add the word-vector subcommands to the ``fastseq`` parser."""
    from .cli import _HelpFormatter as fmt, _positive_int


    p = sub.add_parser("similar", help="nearest words to a word (or interactive)", formatter_class=fmt,
                       description="Print the words nearest (cosine) to WORD. Several words: nearest to "
                                   "their mean. No WORD: read one query per line from standard input "
                                   "(type EXIT or Ctrl-D to stop).")
    _add_load_options(p)
    p.add_argument("words", nargs="*", metavar="WORD", help="query word(s)")
    p.add_argument("--negative", nargs="+", default=[], metavar="WORD", help="words to subtract")
    _add_query_options(p, 10)
    p.set_defaults(func=_one_line_errors(_cmd_similar))

    p = sub.add_parser("analogy", help="A is to B as C is to ? (or interactive)", formatter_class=fmt,
                       description="Answer 'A is to B as C is to ?' with the words nearest to B - A + C "
                                   "(3CosAdd; --cosmul for 3CosMul). Without A B C: read 'A B C' lines from "
                                   "standard input.")
    _add_load_options(p)
    p.add_argument("abc", nargs="*", metavar="A B C", help="the three words")
    p.add_argument("--cosmul", action="store_true", help="use 3CosMul (Levy and Goldberg) instead of 3CosAdd")
    _add_query_options(p, 5)
    p.set_defaults(func=_one_line_errors(_cmd_analogy))

    p = sub.add_parser("eval", help="analogy accuracy and word-pair correlations", formatter_class=fmt,
                       description="Evaluate vectors as gensim does: analogy accuracy on a questions-words.txt "
                                   "style file, Pearson/Spearman correlation on WordSim-353 / SimLex-999 style "
                                   "word-pair files.")
    _add_load_options(p)
    p.add_argument("--analogies", metavar="FILE", help="analogy questions (': section' lines, then 'A B C D')")
    p.add_argument("--pairs", nargs="+", default=[], metavar="FILE",
                   help="word-pair files ('word1<TAB>word2<TAB>score', '#' comments)")
    p.add_argument("--restrict-vocab", type=_positive_int, default=300000, metavar="N",
                   help="only the first N words take part")
    p.add_argument("--case-sensitive", action="store_true", help="compare words as they are (default: ignore case)")
    p.add_argument("--cosmul", action="store_true", help="answer analogies with 3CosMul")
    p.add_argument("--dummy4unknown", action="store_true",
                   help="count questions/pairs with unknown words as wrong / similarity 0 instead of skipping")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.set_defaults(func=_one_line_errors(_cmd_eval))

    p = sub.add_parser("convert", help="convert vectors between formats", formatter_class=fmt,
                       description="Read vectors in any supported format and write them as word2vec binary "
                                   "(bin), word2vec text (text), GloVe text (glove) or fastseq native "
                                   "(memory-mapped; loads instantly).")
    p.add_argument("input", metavar="IN", help="vectors in any supported format")
    p.add_argument("output", metavar="OUT", help="where to write")
    p.add_argument("--to", required=True, choices=["bin", "text", "native", "glove"], help="output format")
    p.add_argument("--limit", type=_positive_int, default=None, metavar="N", help="convert only the first N vectors")
    p.add_argument("--unicode-errors", choices=["strict", "replace", "ignore"], default="strict",
                   help="invalid UTF-8 in a word: stop with an error, or replace/drop the bytes")
    p.set_defaults(func=_one_line_errors(_cmd_convert))

    p = sub.add_parser("plot", help="picture of chosen words: 2-D map or heatmap", formatter_class=fmt,
                       description='Draw a labelled 2-D map of the chosen words (PCA, or t-SNE with '
                                   'scikit-learn), or with --heatmap their vectors as rows of a colour map. '
                                   'Needs matplotlib: pip install "fastseq[plot]".')
    _add_load_options(p)
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--words", nargs="+", metavar="WORD", help="the words to draw")
    which.add_argument("--top", type=_positive_int, metavar="N", help="the N most frequent (first) words")
    p.add_argument("-o", "--output", required=True, metavar="FILE", help="picture to write (.png, .svg or .pdf)")
    p.add_argument("--method", choices=["pca", "tsne"], default="pca", help="how to map vectors to 2-D")
    p.add_argument("--heatmap", action="store_true", help="draw the vectors as a heatmap instead of a map")
    p.add_argument("--title", default=None, help="figure title")
    p.add_argument("--seed", type=int, default=0, help="t-SNE random seed")
    p.set_defaults(func=_one_line_errors(_cmd_plot))


# ---------------------------------------------------------------------- query loop
def _query_batches(prompt):
    """Yield lists of query lines from standard input. A terminal gets ``prompt`` and
    one line at a time; a pipe or file gives every complete line already available
    at once, so piped queries are answered together. Stops at EOF or EXIT."""
    if sys.stdin is None:
        return
    if sys.stdin.isatty():
        while True:
            try:
                line = input(prompt)
            except (EOFError, KeyboardInterrupt):   # Ctrl-D / Ctrl-C end the session
                print(file=sys.stderr)
                return
            if line.strip() == "EXIT":
                return
            if line.strip():
                yield [line]
    fd = sys.stdin.fileno()
    pending = b""
    while True:
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            lines = [pending] if pending.strip() else []
            pending = b""
        else:
            pending += chunk
            *lines, pending = pending.split(b"\n")
        batch = []
        for raw in lines:
            line = raw.decode("utf-8", errors="replace").strip()
            if line == "EXIT":
                if batch:
                    yield batch
                return
            if line:
                batch.append(line)
        if batch:
            yield batch
        if not chunk:
            return


def _print_results(query, results, as_json, out=sys.stdout, error=None, header=True):
    if as_json:
        rec = {"query": query}
        if error is not None:
            rec["error"] = error
        else:
            rec["results"] = [[w, round(s, 6)] for w, s in results]
        out.write(json.dumps(_json_safe(rec)) + "\n")
        return
    if header:
        out.write(f"Query: {query}\n")
    if error is not None:
        out.write(f"  {error}\n\n" if header else f"{error}\n")
        return
    width = max([len(w) for w, _ in results] + [4])
    for r, (w, s) in enumerate(results, 1):
        out.write(f"{r:>4}  {w:<{width}}  {s:.4f}\n")
    if header:
        out.write("\n")


def _answer(kv, queries, topn, restrict, cosmul, as_json, header):
    """queries: list of (label, positive, negative[, error]). Unknown words are reported
    per query; the rest are answered as one batch; output keeps the input order."""
    from .cli import CliError

    ok, errors = [], {}
    for j, (label, pos, neg, *bad) in enumerate(queries):
        missing = [w for w in pos + neg if w not in kv]
        if bad:
            errors[j] = bad[0]
        elif missing:
            try:
                kv.get_index(missing[0])
            except KeyError as e:
                errors[j] = e.args[0]
        else:
            ok.append(j)
    answers = {}
    if ok:
        if cosmul:
            for j in ok:
                _, pos, neg = queries[j][:3]
                answers[j] = kv.most_similar_cosmul(positive=pos, negative=neg, topn=topn, restrict_vocab=restrict)
        else:
            res = kv.most_similar_batch([queries[j][1] for j in ok], [queries[j][2] for j in ok],
                                        topn=topn, restrict_vocab=restrict)
            answers = dict(zip(ok, res))
    for j, (label, *_) in enumerate(queries):
        if not header and j in errors:
            raise CliError(errors[j])
        _print_results(label, answers.get(j), as_json, error=errors.get(j), header=header)
    sys.stdout.flush()


def _cmd_similar(args):
    from .cli import CliError

    kv = _load(args)
    if args.words:
        _answer(kv, [(" ".join(args.words), args.words, args.negative)], args.topn, args.restrict_vocab,
                False, args.json, header=False)
        return 0
    if args.negative:
        raise CliError("--negative needs query WORDs on the command line")
    for batch in _query_batches("Enter word or sentence (EXIT to break): "):
        _answer(kv, [(line, line.split(), []) for line in batch], args.topn, args.restrict_vocab,
                False, args.json, header=True)
    return 0


def _cmd_analogy(args):
    from .cli import CliError

    kv = _load(args)
    if args.abc:
        if len(args.abc) != 3:
            raise CliError(f"give three words A B C (A is to B as C is to ?), got {len(args.abc)}")
        a, b, c = args.abc
        _answer(kv, [(f"{a} : {b} :: {c} : ?", [b, c], [a])], args.topn, args.restrict_vocab,
                args.cosmul, args.json, header=False)
        return 0
    for batch in _query_batches("Enter three words A B C (EXIT to break): "):
        queries = []
        for line in batch:
            w = line.split()
            if len(w) == 3:
                queries.append((f"{w[0]} : {w[1]} :: {w[2]} : ?", [w[1], w[2]], [w[0]]))
            else:
                queries.append((line, [], [], f"expected three words A B C, got {len(w)}"))
        _answer(kv, queries, args.topn, args.restrict_vocab, args.cosmul, args.json, header=True)
    return 0


# ---------------------------------------------------------------------- eval
def _json_safe(obj):
    """NaN/inf (an undefined correlation) as null: bare NaN is not JSON."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    return obj


def _cmd_eval(args):
    from .cli import CliError

    if not args.analogies and not args.pairs:
        raise CliError("nothing to evaluate: give --analogies FILE and/or --pairs FILE ... "
                       "(e.g. word2vec's questions-words.txt and WordSim-353's wordsim353.tsv)")
    for path in ([args.analogies] if args.analogies else []) + args.pairs:
        if not os.path.isfile(path):
            raise CliError(f"{path}: no such file")
    kv = _load(args)
    ci = not args.case_sensitive
    report = {"vectors": args.vectors, "words": len(kv), "dim": kv.vector_size,
              "restrict_vocab": args.restrict_vocab, "case_insensitive": ci}
    if args.analogies:
        score, sections = kv.evaluate_word_analogies(
            args.analogies, restrict_vocab=args.restrict_vocab, case_insensitive=ci,
            dummy4unknown=args.dummy4unknown,
            similarity_function="most_similar_cosmul" if args.cosmul else "most_similar")
        rows = []
        for s in sections:
            c, i = len(s["correct"]), len(s["incorrect"])
            rows.append({"section": s["section"], "correct": c, "answered": c + i,
                         "accuracy": c / (c + i) if c + i else 0.0, "oov": s["oov"]})
        report["analogies"] = {"file": args.analogies, "accuracy": score, "sections": rows,
                               "method": "3CosMul" if args.cosmul else "3CosAdd"}
    if args.pairs:
        report["pairs"] = []
        for path in args.pairs:
            p, s, oov = kv.evaluate_word_pairs(path, restrict_vocab=args.restrict_vocab, case_insensitive=ci,
                                               dummy4unknown=args.dummy4unknown)
            report["pairs"].append({"file": path, "pearson": p[0], "pearson_p": p[1], "spearman": s[0],
                                    "spearman_p": s[1], "oov_percent": oov})
    if args.json:
        print(json.dumps(_json_safe(report), indent=1))
        return 0
    print(f"{args.vectors}: {len(kv):,} words, dim {kv.vector_size}; first {args.restrict_vocab:,} words, "
          f"{'case-insensitive' if ci else 'case-sensitive'}")
    if args.analogies:
        a = report["analogies"]
        print(f"\nanalogies ({a['method']}): {args.analogies}")
        width = max(len(r["section"]) for r in a["sections"])
        print(f"  {'section':<{width}}  {'correct':>7}  {'answered':>8}  {'accuracy':>8}  {'skipped (OOV)':>13}")
        for r in a["sections"]:
            if r["section"] == "Total accuracy":
                print(f"  {'-' * width}  {'-' * 7}  {'-' * 8}  {'-' * 8}  {'-' * 13}")
            print(f"  {r['section']:<{width}}  {r['correct']:>7}  {r['answered']:>8}  "
                  f"{100 * r['accuracy']:>7.1f}%  {r['oov']:>13}")
    for r in report.get("pairs", []):
        print(f"\nword pairs: {r['file']}")
        print(f"  Pearson  {r['pearson']:.4f} (p = {r['pearson_p']:.3g})")
        print(f"  Spearman {r['spearman']:.4f} (p = {r['spearman_p']:.3g})")
        print(f"  pairs with unknown words: {r['oov_percent']:.1f}%")
    return 0


# ---------------------------------------------------------------------- convert
def _cmd_convert(args):
    from ._atomic import check_writable
    from .keyedvectors import KeyedVectors

    check_writable(args.output)
    kv = KeyedVectors.load(args.input, limit=args.limit, mmap=False, unicode_errors=args.unicode_errors)
    kv.save(args.output, format=args.to)
    print(f"fastseq convert: wrote {len(kv):,} vectors of dim {kv.vector_size} to {args.output} ({args.to})",
          file=sys.stderr)
    return 0


# ---------------------------------------------------------------------- plot
def _cmd_plot(args):
    from . import plot
    from ._atomic import check_writable

    plot._matplotlib()      # fail before loading vectors if matplotlib is missing
    check_writable(args.output)
    kv = _load(args)
    if args.words:
        seen = set()
        words = [w for w in args.words if not (w in seen or seen.add(w))]
        for w in words:
            kv.get_index(w)     # KeyError naming the word (and close spellings)
    else:
        words = kv.index_to_key[:args.top]
    vectors = kv[words]
    if args.heatmap:
        plot.plot_heatmap(words, vectors, args.output, title=args.title)
        what = "heatmap"
    else:
        info = plot.plot_map(words, vectors, args.output, method=args.method, title=args.title, seed=args.seed)
        what = f"{args.method} map, {info['labels']} of {len(words)} labels"
    print(f"fastseq plot: wrote {args.output} ({what})", file=sys.stderr)
    return 0
