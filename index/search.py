"""Searching a snapshot: a question in, ranked passages with their documents out."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from chuchu.corpus.documents import Document
from chuchu.corpus.errors import BadInput
from chuchu.corpus.splitting import Passage
from chuchu.index import vectors
from chuchu.index.embedder import Embedder
from chuchu.index.filters import Filter
from chuchu.index.fusion import MODES, Fusion
from chuchu.index.question import reading
from chuchu.index.question.reading import Asking, read_question
from chuchu.index.question.sentence import Span, best_sentence, passage_sentences
from chuchu.index.question.verdict import Evidence, Verdict, context_of, filtered, judge
from chuchu.index.snapshot import Snapshot


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
        """Each question as `run` answers it, the questions embedded in one batch; each result's
        ``encode_ms`` is its share of that batch."""
        if mode not in MODES:
            raise BadInput(f"mode must be one of {', '.join(MODES)}, not {mode!r}.")
        clock = time.perf_counter()
        queries = self.embedder.embed_queries(list(questions)) if questions else np.zeros((0, 0), np.float32)
        encode_ms = (time.perf_counter() - clock) * 1000 / max(1, len(questions))
        allowed = self._allowed(where) if where.active else None
        return [
            self._run(question, queries[i : i + 1], encode_ms, k, mode, where, allowed)
            for i, question in enumerate(questions)
        ]

    def _run(
        self,
        question: str,
        query: np.ndarray,
        encode_ms: float,
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
        clock = time.perf_counter()
        body = self.snapshot.lexical.score(question)
        context = self.snapshot.context.score(question)
        lexical = self.fusion.lexical(body.scores, context.scores)
        timings["lexical_ms"] = (time.perf_counter() - clock) * 1000
        clock = time.perf_counter()
        if mode == "dense":
            ranking = dense
        elif mode == "lexical":
            ranking = lexical
        else:
            ranking = self.fusion.combine(dense, lexical, question)
        dense_rank = _ranks(dense)
        lexical_rank = _ranks(lexical)
        order = np.argsort(-ranking, kind="stable")
        if allowed is not None:
            order = order[allowed[order]]
        hits = []
        for rank, (i, copies) in enumerate(self._collapse(order, k), start=1):
            passage = self.snapshot.passages[i]
            hits.append(
                Hit(
                    rank=rank,
                    score=float(ranking[i]),
                    passage=passage,
                    document=self.snapshot.documents[passage.doc_id],
                    dense=float(dense[i]),
                    lexical=float(lexical[i]),
                    terms=tuple(body.matched(int(i))),
                    dense_rank=int(dense_rank[i]),
                    lexical_rank=int(lexical_rank[i]) if lexical[i] > 0 else 0,
                    also_in=tuple(self.snapshot.passages[j] for j in copies),
                )
            )
        timings["fusion_ms"] = (time.perf_counter() - clock) * 1000
        clock = time.perf_counter()
        asking = read_question(question)
        hits = self._with_answers(asking, query, hits)
        top = [Evidence(h.passage.text, self._context(h), _sentence(h), h.dense_rank, h.lexical_rank) for h in hits[:1]]
        # The lexical leg voted when it matched and had a weight (none for an English question in hybrid).
        weighted = mode == "lexical" or (mode == "hybrid" and self.fusion.lexical_weight(question) > 0)
        voted = bool(lexical.any()) and weighted
        verdict = judge(asking, top, self.snapshot.lexical.idf, lexical_voted=voted)
        if not hits and where.active:
            verdict = filtered(verdict, where.describe())
        timings["answer_ms"] = (time.perf_counter() - clock) * 1000
        return Result(hits, mode, verdict, timings)

    def _context(self, hit: Hit) -> str:
        return context_of(hit.document.title, hit.passage.heading, hit.document.date)

    def _with_answers(self, asking: Asking, query: np.ndarray, hits: list[Hit]) -> list[Hit]:
        """The hits with their answering sentences: by shared terms, else by meaning."""
        idf = self.snapshot.lexical.idf
        spans = [best_sentence(asking, h.document.text, h.passage, idf) for h in hits]
        unmatched = [i for i, span in enumerate(spans) if span is None]
        if unmatched:
            # No shared term (an English question): embed the sentences and take the closest.
            candidates = [(i, s) for i in unmatched for s in passage_sentences(hits[i].document.text, hits[i].passage)]
            texts = [hits[i].document.text[s.start : s.end] for i, s in candidates]
            similarity = self.embedder.embed_passages(texts) @ query[0]
            best: dict[int, float] = {}
            for (i, s), sim in zip(candidates, similarity.tolist()):
                if sim > best.get(i, -2.0):
                    spans[i], best[i] = s, sim
        return [replace(h, answer=span) for h, span in zip(hits, spans)]

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
        only = np.flatnonzero(allowed) if allowed is not None else None
        dense = vectors.search(self.snapshot.vectors, self.snapshot.vector_info, query, n, only)
        dense[self._short] -= self.fusion.short_penalty
        return dense


def _sentence(hit: Hit) -> str:
    """The hit's answering sentence, or its whole passage when it has none."""
    return hit.document.text[hit.answer.start : hit.answer.end] if hit.answer else hit.passage.text


def _ranks(scores: np.ndarray) -> np.ndarray:
    """1-based rank of every passage under one score."""
    ranks = np.empty(len(scores), dtype=np.int64)
    ranks[np.argsort(-scores, kind="stable")] = np.arange(1, len(scores) + 1)
    return ranks
