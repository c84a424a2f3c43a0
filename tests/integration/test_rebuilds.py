"""Rebuilds of the real corpus with the real model: what is embedded, how long it takes, the gate.

The times are printed, not asserted (the machine is shared); the assertions are on what was
embedded, which is what makes a rebuild fast.
"""

import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from chuchu.corpus.errors import BuildError
from chuchu.index.build import BuildSummary, build_index
from chuchu.index.cache import EmbeddingCache
from chuchu.index.changes import Tally
from chuchu.index.default_model import ensure_default_model
from chuchu.index.gate import Gate
from chuchu.index.lazy_embedder import folder_identity, remember
from chuchu.index.store import Store
from tests.conftest import CORPUS, DEV_QUESTIONS, MODEL_CACHE

pytestmark = pytest.mark.integration

EDITED = "003_fef3c14de18c72bf.txt"
NEW_PARAGRAPH = "新增的一段：本县今年新建了五座口袋公园，方便群众休闲健身，受到普遍欢迎。"


def copy_corpus(destination: Path) -> Path:
    """The corpus documents (not its code) in a directory of their own, to edit freely."""
    shutil.copytree(CORPUS, destination, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    for path in destination.iterdir():
        path.chmod(0o644)
    return destination


def edit_one_file(corpus: Path) -> None:
    """Change one sentence of one long paragraph of EDITED, and add a paragraph at its end."""
    path = corpus / EDITED
    lines = path.read_text(encoding="utf-8").split("\n")
    i = next(i for i, line in enumerate(lines) if len(line) > 100 and "，" in line)
    lines[i] = lines[i].replace("，", "、", 1)
    lines.append(NEW_PARAGRAPH)
    path.write_text("\n".join(lines), encoding="utf-8")


@dataclass(frozen=True)
class Cold:
    corpus: Path
    store: Store
    cache: Path
    summary: BuildSummary


@pytest.fixture(scope="module")
def cold(tmp_path_factory, embedder) -> Cold:
    """The corpus built once with an empty embedding cache, which the other builds then use."""
    root = tmp_path_factory.mktemp("cold")
    corpus, store = copy_corpus(root / "corpus"), Store(root / "store")
    with EmbeddingCache(root / "cache", embedder.fingerprint, embedder.dimension) as cache:
        summary = build_index(corpus, store, embedder, cache=cache)
    return Cold(corpus, store, root / "cache", summary)


def test_a_rebuild_embeds_only_what_changed(cold, tmp_path, embedder, capsys):
    with EmbeddingCache(cold.cache, embedder.fingerprint, embedder.dimension) as cache:
        unchanged = build_index(cold.corpus, cold.store, embedder, cache=cache)
        edited_corpus = copy_corpus(tmp_path / "edited")
        edit_one_file(edited_corpus)
        edited = build_index(edited_corpus, cold.store, embedder, cache=cache)

    first = cold.summary
    assert first.reused == 0 and 0 < first.embedded <= first.passages
    assert unchanged.embedded == 0 and unchanged.reused == unchanged.passages == first.passages
    assert unchanged.changes.documents == Tally(unchanged=first.documents)
    assert edited.changes.documents == Tally(changed=1, unchanged=first.documents - 1)
    new_texts = edited.changes.passages.added + edited.changes.passages.changed
    assert edited.embedded == new_texts and 2 <= new_texts <= 4, edited.changes
    assert edited.reused == edited.passages - edited.embedded
    with capsys.disabled():
        print(
            f"\nrebuilds of the real corpus ({first.documents} documents, {first.passages} passages), model loaded: "
            f"cold {first.seconds:.1f} s ({first.embedded} embedded), unchanged {unchanged.seconds:.1f} s "
            f"(0 embedded), one file edited {edited.seconds:.1f} s ({edited.embedded} embedded)"
        )


def test_the_command_rebuilds_an_unchanged_corpus_without_loading_the_model(cold, tmp_path, embedder, capsys):
    # What `chuchu build` records when it loads the default model; done here with the model
    # this session already loaded.
    remember(cold.cache, folder_identity("default", ensure_default_model(MODEL_CACHE)), embedder)
    env = dict(
        os.environ,
        CHUCHU_STORE=str(tmp_path / "store"),
        CHUCHU_EMBEDDING_CACHE=str(cold.cache),
        CHUCHU_MODEL_CACHE=str(MODEL_CACHE),
    )
    cli = Path(sys.executable).with_name("chuchu")
    began = time.perf_counter()
    done = subprocess.run(
        [str(cli), "build", "--corpus", str(cold.corpus)], env=env, capture_output=True, text=True, timeout=120
    )
    seconds = time.perf_counter() - began
    assert done.returncode == 0, done.stderr
    assert f"vectors: 0 passages embedded, {cold.summary.passages} reused" in done.stdout
    assert "loaded model" not in done.stderr, "the model was loaded though nothing was embedded"
    with capsys.disabled():
        print(f"\n`chuchu build` of the unchanged real corpus, process start to exit: {seconds:.1f} s")


def test_the_gate_refuses_a_build_that_lost_a_document(cold, tmp_path, embedder):
    corpus, store = copy_corpus(tmp_path / "corpus"), Store(tmp_path / "store")
    with EmbeddingCache(cold.cache, embedder.fingerprint, embedder.dimension) as cache:
        live = build_index(corpus, store, embedder, cache=cache, gate=Gate(DEV_QUESTIONS))
        assert live.embedded == 0 and live.quality is not None and live.quality["recall@5"] >= 0.96
        (corpus / "002_23bbc0367b06fa24.txt").unlink()  # the development questions ask about it
        with pytest.raises(BuildError, match=f"quality gate refused.*build {live.build_id} stays live"):
            build_index(corpus, store, embedder, cache=cache, gate=Gate(DEV_QUESTIONS))
    assert store.live_id() == live.build_id and [b.build_id for b in store.list_builds()] == [live.build_id]
