#!/usr/bin/env python3
"""The FTS5 differential: our query evaluator and BM25 against SQLite FTS5 as the oracle.

From a fixed seed it generates a corpus of ASCII documents (words of a Zipf-distributed
vocabulary, with capitals and punctuation) and queries in the syntax FTS5 accepts (terms,
implicit and explicit AND, OR, NOT, phrases, prefixes, phrase prefixes, `+`, parentheses),
loads the corpus into an FTS5 table (unicode61, the default tokenizer), and compares, query by
query, FTS5's hits and -bm25() with what tests/text/fts5_diff.cpp (text::search_all and
text::search) prints for the same input. Scores must agree to a relative 1e-9; the hit sets
exactly. Fails on the first difference, naming the query.

    fts5_oracle.py <path of fts5_diff> [--seed N] [--docs N] [--queries N]
"""
import argparse
import math
import os
import random
import sqlite3
import subprocess
import sys
import tempfile

TOP_K = 10


def make_vocabulary(rng, size):
    onsets = ['b', 'c', 'd', 'f', 'g', 'h', 'j', 'k', 'l', 'm', 'n', 'p', 'r', 's', 't', 'v', 'w', 'z',
              'br', 'ch', 'cl', 'dr', 'fl', 'gr', 'pl', 'pr', 'sh', 'st', 'str', 'th', 'tr']
    vowels = ['a', 'e', 'i', 'o', 'u', 'ai', 'ea', 'io', 'ou']
    codas = ['', '', 'n', 'r', 's', 't', 'l', 'm', 'nd', 'st', 'ck']
    words, seen = [], set()
    while len(words) < size:
        w = ''.join(rng.choice(onsets) + rng.choice(vowels) for _ in range(rng.choice([1, 1, 2, 2, 3])))
        w += rng.choice(codas)
        if rng.random() < 0.03:
            w += str(rng.randint(0, 99))
        if w in seen:
            continue
        seen.add(w)
        words.append(w)
    return words


def make_corpus(rng, vocabulary, count):
    weights = [1.0 / (rank + 1) ** 1.05 for rank in range(len(vocabulary))]
    docs = []
    for _ in range(count):
        n = rng.randint(3, 60)
        words = rng.choices(vocabulary, weights, k=n)
        parts = []
        for i, w in enumerate(words):
            r = rng.random()
            if r < 0.08:
                w = w.capitalize()
            elif r < 0.10:
                w = w.upper()
            parts.append(w)
            if i + 1 < n:
                s = rng.random()
                parts.append(', ' if s < 0.08 else '. ' if s < 0.13 else '-' if s < 0.16 else "'" if s < 0.18
                             else ' (' if s < 0.19 else ') ' if s < 0.20 else ' ')
        text = ''.join(parts) + rng.choice(['', '.', '!', '?', '...'])
        docs.append(text)
    return docs


def tokens(text):
    """unicode61 on ASCII: runs of letters and digits, folded."""
    out, cur = [], []
    for c in text:
        if c.isascii() and c.isalnum():
            cur.append(c.lower())
        elif cur:
            out.append(''.join(cur))
            cur = []
    if cur:
        out.append(''.join(cur))
    return out


def make_queries(rng, docs, vocabulary, count):
    doc_tokens = [tokens(d) for d in docs]
    keywords = {'and', 'or', 'not', 'near'}

    def some_doc():
        while True:
            t = doc_tokens[rng.randrange(len(doc_tokens))]
            if len(t) >= 4:
                return t

    def dress(w):
        return w.capitalize() if rng.random() < 0.2 else w

    def term(from_doc=None):
        while True:
            w = rng.choice(from_doc) if from_doc is not None and rng.random() < 0.8 else rng.choice(vocabulary[:800])
            if w not in keywords:
                return dress(w)

    def prefix():
        w = term()
        return w[:max(1, min(len(w) - 1, rng.randint(2, 4)))] + '*'

    def phrase(t, n):
        i = rng.randrange(len(t) - n + 1)
        return '"' + ' '.join(dress(w) for w in t[i:i + n]) + '"'

    def phrase_prefix(t):
        i = rng.randrange(len(t) - 1)
        last = t[i + 1]
        return f'"{dress(t[i])} {last[:max(1, len(last) - 2)]}"*'

    kinds = {
        'term': lambda t: term(t),
        'and2': lambda t: f'{term(t)} {term(t)}',
        'and3': lambda t: f'{term(t)} {term(t)} {term(t)}',
        'AND': lambda t: f'{term(t)} AND {term(t)}',
        'or2': lambda t: f'{term(t)} OR {term(t)}',
        'or3': lambda t: f'{term(t)} OR {term(t)} OR {term(t)}',
        'not': lambda t: f'{term(t)} NOT {term(t)}',
        'phrase2': lambda t: phrase(t, 2),
        'phrase3': lambda t: phrase(t, 3),
        'prefix': lambda t: prefix(),
        'prefix_and': lambda t: f'{prefix()} {term(t)}',
        'phrase_prefix': lambda t: phrase_prefix(t),
        'plus': lambda t: ' + '.join(phrase(t, 2)[1:-1].split(' ')),
        'or_and': lambda t: f'{term(t)} OR {term(t)} {term(t)}',       # a OR (b c)
        'and_or': lambda t: f'{term(t)} {term(t)} OR {term(t)}',       # (a b) OR c
        'not_and': lambda t: f'{term(t)} NOT {term(t)} {term(t)}',     # a NOT (b c)
        'and_not': lambda t: f'{term(t)} AND {term(t)} NOT {term(t)}', # a AND (b NOT c)
        'group_or_and': lambda t: f'({term(t)} OR {term(t)}) AND {term(t)}',
        'and_group_or': lambda t: f'{term(t)} AND ({term(t)} OR {phrase(t, 2)})',
        'not_group': lambda t: f'{term(t)} NOT ({term(t)} OR {term(t)})',
        'or_group_and': lambda t: f'{term(t)} OR ({term(t)} AND {term(t)})',
        'or_group_not': lambda t: f'{term(t)} OR ({term(t)} NOT {term(t)})',
        'group_group': lambda t: f'({term(t)} OR {prefix()}) AND ({term(t)} OR {term(t)})',
    }
    names = sorted(kinds)
    queries = []
    for i in range(count):
        kind = names[i % len(names)]
        queries.append((kind, kinds[kind](some_doc())))
    return queries


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('program')
    ap.add_argument('--seed', type=int, default=20261207)
    ap.add_argument('--docs', type=int, default=2000)
    ap.add_argument('--queries', type=int, default=460)
    args = ap.parse_args()

    rng = random.Random(args.seed)
    vocabulary = make_vocabulary(rng, 3000)
    docs = make_corpus(rng, vocabulary, args.docs)
    queries = make_queries(rng, docs, vocabulary, args.queries)

    db = sqlite3.connect(':memory:')
    db.execute('CREATE VIRTUAL TABLE t USING fts5(body)')
    db.executemany('INSERT INTO t(rowid, body) VALUES (?, ?)', [(i + 1, d) for i, d in enumerate(docs)])

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, 'input.tsv')
        with open(path, 'w', encoding='utf-8') as f:
            f.write(f'K\t{TOP_K}\n')
            for i, d in enumerate(docs):
                f.write(f'D\t{i + 1}\t{d}\n')
            for i, (_, q) in enumerate(queries):
                f.write(f'Q\t{i}\t{q}\n')
        run = subprocess.run([args.program, path], capture_output=True, text=True)
    if run.returncode != 0:
        print(f'{args.program} failed ({run.returncode}):\n{run.stderr}')
        return 1

    ours = {}
    current = None
    for line in run.stdout.splitlines():
        fields = line.split('\t')
        if fields[0] == 'Q':
            current = {'hits': {}, 'top': [], 'error': None}
            ours[int(fields[1])] = current
        elif fields[0] == 'E':
            ours[int(fields[1])] = {'hits': {}, 'top': [], 'error': fields[2]}
        elif fields[0] == 'H':
            current['hits'][int(fields[1])] = float(fields[2])
        elif fields[0] == 'T':
            current['top'].append((int(fields[1]), float(fields[2])))

    kinds_seen, kinds_hit, with_hits, total_hits = {}, {}, 0, 0
    for i, (kind, q) in enumerate(queries):
        theirs = dict((rowid, -score) for rowid, score in
                      db.execute('SELECT rowid, bm25(t) FROM t WHERE t MATCH ?', (q,)))
        mine = ours.get(i)
        where = f'query {i} ({kind}): {q}'
        if mine is None:
            print(f'{where}: no output from {args.program}')
            return 1
        if mine['error'] is not None:
            print(f'{where}: FTS5 accepts it, we refuse it: {mine["error"]}')
            return 1
        if set(theirs) != set(mine['hits']):
            only_fts5 = sorted(set(theirs) - set(mine['hits']))[:10]
            only_ours = sorted(set(mine['hits']) - set(theirs))[:10]
            print(f'{where}: hit sets differ: {len(theirs)} in FTS5, {len(mine["hits"])} ours; '
                  f'only FTS5: {only_fts5}; only ours: {only_ours}')
            return 1
        for rowid, score in theirs.items():
            ours_score = mine['hits'][rowid]
            if not math.isclose(score, ours_score, rel_tol=1e-9, abs_tol=0.0):
                print(f'{where}: rowid {rowid}: FTS5 {score!r}, ours {ours_score!r} (document: {docs[rowid - 1]!r})')
                return 1
        # The top-k: our search() agrees with sorting our own hits, and with FTS5's scores.
        expected = sorted(mine['hits'].items(), key=lambda h: (-h[1], h[0]))[:TOP_K]
        if mine['top'] != expected:
            print(f'{where}: search() top {TOP_K} {mine["top"]} is not the best of search_all(): {expected}')
            return 1
        fts5_top = [-s for (s,) in db.execute(
            'SELECT bm25(t) FROM t WHERE t MATCH ? ORDER BY bm25(t) LIMIT ?', (q, TOP_K))]
        if not all(math.isclose(a, b[1], rel_tol=1e-9) for a, b in zip(fts5_top, mine['top'])):
            print(f'{where}: top {TOP_K} scores differ: FTS5 {fts5_top}, ours {[s for _, s in mine["top"]]}')
            return 1
        kinds_seen[kind] = kinds_seen.get(kind, 0) + 1
        if theirs:
            kinds_hit[kind] = kinds_hit.get(kind, 0) + 1
            with_hits += 1
            total_hits += len(theirs)

    # Not vacuous: most queries find something, and every kind of query is exercised.
    print(f'{len(docs)} documents, {len(queries)} queries of {len(kinds_seen)} kinds, '
          f'{with_hits} with hits ({total_hits} hits in all): FTS5 and ours agree')
    for kind in sorted(kinds_seen):
        print(f'  {kind:14} {kinds_seen[kind]:3} queries, {kinds_hit.get(kind, 0):3} with hits')
    if with_hits < 0.8 * len(queries):
        print('too few queries have hits: the comparison says little')
        return 1
    missing = [k for k in kinds_seen if kinds_hit.get(k, 0) < 3]
    if len(kinds_seen) < 20 or missing:
        print(f'query kinds exercised too little: {missing}')
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
