"""Searching a snapshot: a question in, ranked passages with their documents out."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from chuchu.corpus.documents import Document
from chuchu.corpus.errors import BadInput
from chuchu.corpus.splitting import Passage
from chuchu.corpus.terms import terms
from chuchu.index import sentence_vectors, vectors
from chuchu.index.batching import QueryBatcher
from chuchu.index.embedder import Embedder
from chuchu.index.filters import Filter
from chuchu.index.fusion import MODES, Fusion
from chuchu.index.lexical import LexicalScores
from chuchu.index.question import reading
from chuchu.index.question.reading import Asking, read_question
from chuchu.index.question.sentence import Span, best_sentence, passage_sentences
from chuchu.index.question.verdict import Evidence, Verdict, context_of, filtered, judge
from chuchu.index.snapshot import Snapshot

# The fewest passages put in order at once; a build of more than four times as many sorts only
# its best ones (and all of them when those are not enough for k distinct passages).
_SORTED_AT_LEAST = 256


@dataclass(frozen=True)
class Hit:
    """One ranked passage, with the scores of each leg (explain shows them)."""

    rank: int
    score: float  # what the ranking used: fused in hybrid mode, else the one leg's score
    passage: Passage
    document: Document
    dense: float
    lexical: float
    terms: tuple[str, ...] = ()  # the question's terms found in the passage
    dense_rank: int = 0
    lexical_rank: int = 0
    also_in: tuple[Passage, ...] = ()  # near-duplicates of this passage, returned once
    answer: Span | None = None  # the sentence that best answers, in file coordinates


@dataclass(frozen=True)
class Result:
    """The hits for one question, and how long each stage took."""

    hits: list[Hit]
    mode: str
    verdict: Verdict
    timings_ms: dict[str, float] = field(default_factory=dict)

    @property
    def answerable(self) -> bool:
        """Whether the first passage is judged to answer the question."""
        return self.verdict.answerable


class Searcher:
    """Answers questions from one snapshot with one embedder."""

    def __init__(self, snapshot: Snapshot, embedder: Embedder) -> None:
        snapshot.manifest.check_model(snapshot.path, embedder.name, embedder.fingerprint, embedder.dimension)
        self.snapshot = snapshot
        self.embedder = embedder
        self.fusion = Fusion(**snapshot.manifest.settings.get("fusion", {}))
        min_chars = int(snapshot.manifest.settings.get("min_chars", 24))
        self._short = np.array([p.kind == "caption" or len(p.text) < min_chars for p in snapshot.passages], dtype=bool)
        self._doc_ids = sorted(snapshot.documents)
        self._doc_of = np.searchsorted(self._doc_ids, [p.doc_id for p in snapshot.passages]).astype(np.int64)
        self._members: dict[int, list[int]] = {}
        for i, group in enumerate(snapshot.groups.tolist()):
            self._members.setdefault(group, []).append(i)
        # Each passage's sentence vectors, when the build made them (index.sentence_vectors).
        self._sentences = sentence_vectors.load(
            snapshot.path,
            snapshot.manifest.settings.get("sentences"),
            len(snapshot.passages),
            snapshot.manifest.dimension,
        )
        self._batcher = QueryBatcher(embedder)  # concurrent questions embedded together
        self._matrix = _flat_vectors(snapshot)
        reading.warm()  # jieba's dictionary, loaded with the index rather than on the first question

    def search(self, question: str, k: int, mode: str = "hybrid", where: Filter = Filter()) -> list[Hit]:
        """The k best passages for the question, best first."""
        return self.run(question, k, mode, where).hits

    def run(self, question: str, k: int, mode: str = "hybrid", where: Filter = Filter()) -> Result:
        """Search the documents the filter allows, keeping the per-stage timings."""
        return self.run_many([question], k, mode, where)[0]

    def run_many(
        self, questions: Sequence[str], k: int, mode: str = "hybrid", where: Filter = Filter()
    ) -> list[Result]:
        """Each question as `run` answers it, the questions embedded in one batch (with those of
        other threads asking at the same time, index.batching); each result's ``encode_ms`` is its
        share of the time the batch took, waiting for the model included."""
        if mode not in MODES:
            raise BadInput(f"mode must be one of {', '.join(MODES)}, not {mode!r}.")
        questions = list(questions)
        allowed = self._allowed(where) if where.active else None
        early = [self._without_vector(question) for question in questions]
        clock = time.perf_counter()
        queries = self._batcher.embed_queries(questions) if questions else np.zeros((0, 0), np.float32)
        encode_ms = (time.perf_counter() - clock) * 1000 / max(1, len(questions))
        return [
            self._run(question, queries[i : i + 1], encode_ms, early[i], k, mode, where, allowed)
            for i, question in enumerate(questions)
        ]

    def _without_vector(self, question: str) -> _Early:
        """The work on a question that needs no vector: the lexical leg, and reading it."""
        clock = time.perf_counter()
        cut = terms(question)
        body = self.snapshot.lexical.score_terms(cut)
        context = self.snapshot.context.score_terms(cut)
        lexical = self.fusion.lexical(body.scores, context.scores)
        lexical_ms = (time.perf_counter() - clock) * 1000
        clock = time.perf_counter()
        asking = read_question(question)
        # The lexical leg's weight, when it matched something (else it has no say, and none is needed).
        weight = self.fusion.lexical_weight(question, cut) if lexical.any() else 0.0
        return _Early(body, lexical, lexical_ms, asking, weight, (time.perf_counter() - clock) * 1000)

    def _run(
        self,
        question: str,
        query: np.ndarray,
        encode_ms: float,
        early: _Early,
        k: int,
        mode: str,
        where: Filter,
        allowed: np.ndarray | None,
    ) -> Result:
        timings: dict[str, float] = {"encode_ms": encode_ms}
        clock = time.perf_counter()
        n = len(self.snapshot.passages)
        dense = self._dense(query, n, allowed)
        timings["dense_ms"] = (time.perf_counter() - clock) * 1000
        body, lexical = early.body, early.lexical
        timings["lexical_ms"] = early.lexical_ms
        clock = time.perf_counter()
        if mode == "dense":
            ranking = dense
        elif mode == "lexical":
            ranking = lexical
        else:
            ranking = self.fusion.combine(dense, lexical, question, early.lexical_weight)
        picked = self._collapse(self._order(ranking, allowed, k), k)
        rows = [i for i, _ in picked]
        matched = body.matched_rows(rows)
        timings["fusion_ms"] = (time.perf_counter() - clock) * 1000
        clock = time.perf_counter()
        asking = early.asking
        passages, documents = self.snapshot.passages, self.snapshot.documents
        # The idf of the question's terms, which weigh each hit's sentences and the verdict's
        # coverage (both look up only those terms): looked up once.
        idf = {t: self.snapshot.lexical.idf(t) for t in asking.content}.__getitem__
        spans = self._answers(asking, query, [passages[i] for i in rows], rows, idf)
        hits = []
        for rank, ((i, copies), span) in enumerate(zip(picked, spans), start=1):
            passage = passages[i]
            hits.append(
                Hit(
                    rank=rank,
                    score=float(ranking[i]),
                    passage=passage,
                    document=documents[passage.doc_id],
                    dense=float(dense[i]),
                    lexical=float(lexical[i]),
                    terms=matched[rank - 1],
                    dense_rank=_rank(dense, i),
                    lexical_rank=_rank(lexical, i) if lexical[i] > 0 else 0,
                    also_in=tuple(passages[j] for j in copies),
                    answer=span,
                )
            )
        top = [Evidence(h.passage.text, self._context(h), _sentence(h), h.dense_rank, h.lexical_rank) for h in hits[:1]]
        # The lexical leg voted when it matched and had a weight (none for an English question in hybrid).
        matched_any = bool(lexical.any())
        weighted = mode == "lexical" or (mode == "hybrid" and matched_any and early.lexical_weight > 0)
        voted = matched_any and weighted
        verdict = judge(asking, top, idf, lexical_voted=voted)
        if not hits and where.active:
            verdict = filtered(verdict, where.describe())
        timings["answer_ms"] = (time.perf_counter() - clock) * 1000 + early.reading_ms
        return Result(hits, mode, verdict, timings)

    def _order(self, ranking: np.ndarray, allowed: np.ndarray | None, k: int) -> np.ndarray:
        """Passage numbers best first (ties in passage order), those the filter allows; enough for k
        distinct groups, not necessarily all: a large build sorts only its best few hundred."""
        candidates = np.flatnonzero(allowed) if allowed is not None else None
        scores = ranking if candidates is None else ranking[candidates]
        want = max(_SORTED_AT_LEAST, 8 * k)
        if len(scores) > 4 * want:
            threshold = np.partition(scores, len(scores) - want)[len(scores) - want]
            top = np.flatnonzero(scores >= threshold)  # ascending: ties keep passage order below
            order = top[np.argsort(-scores[top], kind="stable")]
            if len(self._collapse(order if candidates is None else candidates[order], k)) == k:
                return order if candidates is None else candidates[order]
        order = np.argsort(-scores, kind="stable")
        return order if candidates is None else candidates[order]

    def _context(self, hit: Hit) -> str:
        return context_of(hit.document.title, hit.passage.heading, hit.document.date)

    def _answers(
        self,
        asking: Asking,
        query: np.ndarray,
        passages: list[Passage],
        rows: list[int],
        idf: Callable[[str], float],
    ) -> list[Span | None]:
        """The answering sentence of each passage: by shared terms, else by meaning.

        By meaning, the sentence whose vector is closest to the question's: the build's sentence
        vectors (index.sentence_vectors) when it made them, else the sentences embedded now.
        """
        documents = self.snapshot.documents
        texts = [documents[p.doc_id].text for p in passages]
        split = [passage_sentences(text, p) for text, p in zip(texts, passages)]
        spans = [best_sentence(asking, text, p, idf, s) for text, p, s in zip(texts, passages, split)]
        unembedded: list[tuple[int, list[Span]]] = []
        for i, span in enumerate(spans):
            if span is not None:
                continue
            sentences = split[i]
            stored = self._sentences.of(rows[i]) if self._sentences is not None else None
            if len(sentences) == 1:
                spans[i] = sentences[0]
            elif stored is not None and len(stored) == len(sentences):
                spans[i] = sentences[int(np.argmax(stored @ query[0]))]
            else:
                unembedded.append((i, sentences))
        if unembedded:
            # A build without sentence vectors: embed the sentences now and take the closest.
            candidates = [(i, s) for i, sentences in unembedded for s in sentences]
            similarity = self.embedder.embed_passages([texts[i][s.start : s.end] for i, s in candidates]) @ query[0]
            best: dict[int, float] = {}
            for (i, s), sim in zip(candidates, similarity.tolist()):
                if sim > best.get(i, -2.0):
                    spans[i], best[i] = s, sim
        return spans

    def _collapse(self, order: np.ndarray, k: int) -> list[tuple[int, list[int]]]:
        """The first k passages of distinct duplicate groups, each with the rest of its group."""
        groups = self.snapshot.groups
        picked: list[tuple[int, list[int]]] = []
        seen: set[int] = set()
        for i in order:
            group = int(groups[i])
            if group in seen:
                continue
            seen.add(group)
            picked.append((int(i), [j for j in self._members[group] if j != i]))
            if len(picked) == k:
                break
        return picked

    def _allowed(self, where: Filter) -> np.ndarray:
        """Per passage, whether the filter lets its document through."""
        docs = [i for i, doc_id in enumerate(self._doc_ids) if where.allows(self.snapshot.documents[doc_id])]
        return np.isin(self._doc_of, docs)

    def _dense(self, query: np.ndarray, n: int, allowed: np.ndarray | None) -> np.ndarray:
        """The question vector's cosine similarity with every passage (index.vectors.search)."""
        if self._matrix is not None:
            # Exact: one product with the stored vectors. FAISS asked for all n results keeps a heap
            # of n (100 ms at 100,000 passages, against 16 ms for the product).
            dense = self._matrix @ query[0]
        else:
            only = np.flatnonzero(allowed) if allowed is not None else None
            dense = vectors.search(self.snapshot.vectors, self.snapshot.vector_info, query, n, only)
        dense[self._short] -= self.fusion.short_penalty
        return dense


@dataclass(frozen=True)
class _Early:
    """What was worked out about a question while the model embedded it."""

    body: LexicalScores  # the passage text's BM25 scores, with the question's terms found
    lexical: np.ndarray  # the lexical leg's fused score per passage
    lexical_ms: float
    asking: Asking
    lexical_weight: float  # the lexical leg's weight in hybrid mode (index.fusion), 0 when it matched nothing
    reading_ms: float


def _flat_vectors(snapshot: Snapshot) -> np.ndarray | None:
    """An exact index's vectors as a (passages, dimension) array, without copying them; None for an
    approximate index (or a FAISS without the accessor, which is then searched through FAISS)."""
    index, n = snapshot.vectors, len(snapshot.passages)
    if snapshot.vector_info.kind != vectors.EXACT or not hasattr(index, "get_xb") or n == 0:
        return None
    try:
        import faiss

        flat = faiss.rev_swig_ptr(index.get_xb(), n * index.d)
    except (AttributeError, TypeError, RuntimeError):
        return None
    return np.asarray(flat, dtype=np.float32).reshape(n, index.d)  # valid while the snapshot holds the index


def _sentence(hit: Hit) -> str:
    """The hit's answering sentence, or its whole passage when it has none."""
    return hit.document.text[hit.answer.start : hit.answer.end] if hit.answer else hit.passage.text


def _rank(scores: np.ndarray, i: int) -> int:
    """1-based rank of passage i under one score, as a stable sort best first places it: after
    every better passage, and after the equal ones numbered before it."""
    value = scores[i]
    return 1 + int(np.count_nonzero(scores > value)) + int(np.count_nonzero(scores[:i] == value))
