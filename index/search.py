"""Searching a snapshot: a question in, ranked passages with their documents out."""

from __future__ import annotations

from dataclasses import dataclass

from corpus.documents import Document
from corpus.splitting import Passage
from index.embedder import Embedder
from index.snapshot import Snapshot


@dataclass(frozen=True)
class Hit:
    """One ranked passage."""

    rank: int
    score: float
    passage: Passage
    document: Document


class Searcher:
    """Answers questions from one snapshot with one embedder."""

    def __init__(self, snapshot: Snapshot, embedder: Embedder) -> None:
        snapshot.manifest.check_model(snapshot.path, embedder.name, embedder.fingerprint, embedder.dimension)
        self.snapshot = snapshot
        self.embedder = embedder

    def search(self, question: str, k: int) -> list[Hit]:
        """The k passages nearest to the question, best first."""
        query = self.embedder.embed_queries([question])
        k = min(k, len(self.snapshot.passages))
        scores, ids = self.snapshot.vectors.search(query, k)
        hits = []
        for rank, (score, i) in enumerate(zip(scores[0], ids[0]), start=1):
            if i < 0:
                continue
            passage = self.snapshot.passages[i]
            hits.append(Hit(rank, float(score), passage, self.snapshot.documents[passage.doc_id]))
        return hits
