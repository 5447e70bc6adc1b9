"""A generated corpus with planted structure, for ``fastseq w2v --demo`` and the tests.

Words come in classes (animals, foods, colours, verbs) that share contexts, and
country / capital / language triples that appear in fixed relations, so a good
model puts class members next to each other and solves analogies such as
france : paris :: japan : ? (tokyo)."""
from __future__ import annotations

import random

from ._atomic import atomic_write

COUNTRIES = [
    ("france", "paris", "french"), ("germany", "berlin", "german"), ("italy", "rome", "italian"),
    ("spain", "madrid", "spanish"), ("japan", "tokyo", "japanese"), ("china", "beijing", "chinese"),
    ("russia", "moscow", "russian"), ("egypt", "cairo", "arabic"), ("greece", "athens", "greek"),
    ("poland", "warsaw", "polish"), ("sweden", "stockholm", "swedish"), ("norway", "oslo", "norwegian"),
    ("portugal", "lisbon", "portuguese"), ("turkey", "ankara", "turkish"), ("finland", "helsinki", "finnish"),
    ("hungary", "budapest", "hungarian"),
]
CLASSES = {
    "animal": ["dog", "cat", "horse", "cow", "sheep", "pig", "goat", "rabbit", "mouse", "duck"],
    "food": ["bread", "cheese", "apple", "rice", "soup", "meat", "fish", "cake", "corn", "grass"],
    "colour": ["red", "green", "blue", "yellow", "black", "white", "brown", "grey"],
    "verb": ["eats", "likes", "wants", "finds", "smells", "takes", "hides", "loves"],
}
FILLER = ["the", "a", "and", "of", "in", "to", "is", "it", "that", "very"]


def demo_sentences(n_sentences=20000, seed=0):
    """Yield token lists of the demo corpus."""
    rng = random.Random(seed)
    animals, foods, colours, verbs = (CLASSES[k] for k in ("animal", "food", "colour", "verb"))
    for _ in range(n_sentences):
        kind = rng.random()
        if kind < 0.45:
            c, k, lang = rng.choice(COUNTRIES)
            t = rng.randrange(6)
            if t == 0:
                s = f"{k} is the capital city of {c}"
            elif t == 1:
                s = f"the people of {c} speak {lang}"
            elif t == 2:
                s = f"in the city of {k} the people speak {lang}"
            elif t == 3:
                s = f"{c} is a nation and {k} is its capital"
            elif t == 4:
                s = f"the government of {c} sits in {k}"
            else:
                s = f"{lang} is the language of {c} and of {k}"
        else:
            a, f, col, v = rng.choice(animals), rng.choice(foods), rng.choice(colours), rng.choice(verbs)
            t = rng.randrange(4)
            if t == 0:
                s = f"the {col} {a} {v} the {f}"
            elif t == 1:
                s = f"a {a} {v} {f} and the {a} is {col}"
            elif t == 2:
                s = f"that {f} is {col} and very good to eat"
            else:
                s = f"it is a {col} {a} in the field of {f}"
        words = s.split()
        if rng.random() < 0.3:
            words += [rng.choice(FILLER) for _ in range(rng.randrange(1, 4))]
        yield words


def write_demo_corpus(path, n_sentences=20000, seed=0):
    """Write the demo corpus to ``path`` (one sentence per line)."""
    with atomic_write(path, "w") as f:
        for words in demo_sentences(n_sentences, seed):
            f.write(" ".join(words) + "\n")


def analogy_questions():
    """Planted analogies: (a, b, c, expected) with a:b :: c:expected."""
    qs = []
    for i, (c1, k1, l1) in enumerate(COUNTRIES):
        for j, (c2, k2, l2) in enumerate(COUNTRIES):
            if i != j:
                qs.append((c1, k1, c2, k2))
                qs.append((c1, l1, c2, l2))
    return qs
