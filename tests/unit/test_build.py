"""Offline rebuilds with the fake embedder: incremental embedding, the lock, kills, pruning, the gate, the CLI."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import chuchu.index.build as build_module
from chuchu.corpus.errors import BuildError, ModelError
from chuchu.index.build import MIN_KEEP, build_index, embedding_text
from chuchu.index.cache import EmbeddingCache
from chuchu.index.changes import Tally, compare
from chuchu.index.gate import Gate
from chuchu.index.lazy_embedder import LazyEmbedder, folder_identity, remember
from chuchu.index.lock import BuildLock
from chuchu.index.manifest import Manifest
from chuchu.index.snapshot import PASSAGES, read_snapshot
from chuchu.index.store import PARTIAL, Store
from chuchu.service.cli import main
from tests.fakes import CountingEmbedder, HashingEmbedder

ROOT = Path(__file__).resolve().parents[2]


def _corpus(root: Path, files: dict[str, list[str]]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for old in root.glob("*.txt"):
        old.unlink()
    for name, lines in files.items():
        (root / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


ITEMS = ("桥梁", "公园", "学校", "医院", "水库")


def _line(doc: str, i: int) -> str:
    return f"{doc}镇第{i}段：今年全镇新建{ITEMS[(i - 1) % 5]}{i}座，投入资金{i * 100}万元，群众生活稳中有进。"


FILES = {f"{d}.txt": [_line(d, i) for i in range(1, 6)] for d in ("甲", "乙", "丙")}


@pytest.fixture()
def cache(tmp_path):
    with EmbeddingCache(tmp_path / "cache", HashingEmbedder.fingerprint, HashingEmbedder.dimension) as cache:
        yield cache


def _passages(store: Store) -> list[dict]:
    lines = (store.live_path() / PASSAGES).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def test_a_rebuild_embeds_only_new_or_changed_passages_and_counts_the_changes(tmp_path, cache):
    corpus, store = _corpus(tmp_path / "docs", FILES), Store(tmp_path / "store")
    model = CountingEmbedder()
    first = build_index(corpus, store, model, cache=cache)
    assert (first.embedded, first.reused, first.passages) == (15, 0, 15)
    assert first.changes.since is None
    assert first.changes.documents == Tally(added=3) and first.changes.passages == Tally(added=15)

    model.texts.clear()
    again = build_index(corpus, store, model, cache=cache)
    assert model.texts == [], "an unchanged corpus embeds nothing"
    assert (again.embedded, again.reused) == (0, 15)
    assert again.changes.since == first.build_id
    assert again.changes.documents == Tally(unchanged=3) and again.changes.passages == Tally(unchanged=15)

    edited = dict(FILES)
    edited["乙.txt"] = [*FILES["乙.txt"][:2], FILES["乙.txt"][2].replace("稳中有进", "大有起色"), *FILES["乙.txt"][3:]]
    edited["乙.txt"].insert(0, "乙镇新增的一段：今年新建公园五座，方便群众休闲健身，受到普遍欢迎。")
    model.texts.clear()
    third = build_index(_corpus(corpus, edited), store, model, cache=cache)
    assert sorted(model.texts) == sorted([edited["乙.txt"][0], edited["乙.txt"][3]]), "only the two new texts"
    assert (third.embedded, third.reused, third.passages) == (2, 14, 16)
    assert third.changes.documents == Tally(changed=1, unchanged=2)
    assert third.changes.passages == Tally(added=1, changed=1, unchanged=14)
    snapshot = read_snapshot(store.live_path())
    assert snapshot.build_id == third.build_id and snapshot.vectors.ntotal == 16


def test_a_removed_file_leaves_the_index(tmp_path, cache):
    corpus, store = _corpus(tmp_path / "docs", FILES), Store(tmp_path / "store")
    build_index(corpus, store, HashingEmbedder(), cache=cache)
    (corpus / "丙.txt").unlink()
    summary = build_index(corpus, store, CountingEmbedder(), cache=cache)
    assert summary.embedded == 0
    assert summary.changes.documents == Tally(removed=1, unchanged=2)
    assert summary.changes.passages == Tally(removed=5, unchanged=10)
    assert {p["file"] for p in _passages(store)} == {"甲.txt", "乙.txt"}
    documents = (store.live_path() / "documents.jsonl").read_text(encoding="utf-8")
    assert "丙镇" not in documents


def test_the_cache_key_is_the_text_embedding_text_returns(tmp_path, cache, monkeypatch):
    corpus, store = _corpus(tmp_path / "docs", FILES), Store(tmp_path / "store")
    build_index(corpus, store, HashingEmbedder(), cache=cache)
    monkeypatch.setattr(build_module, "embedding_text", lambda p: f"{p.heading}\n{p.text}")
    model = CountingEmbedder()
    summary = build_index(corpus, store, model, cache=cache)
    assert summary.embedded == 15 and "\n" + _line("甲", 1) in model.texts
    assert summary.changes.passages == Tally(unchanged=15), "the live build's passages are compared alike"


def test_embedding_text_is_the_passage_text_for_now(small_corpus):
    from chuchu.corpus.documents import read_corpus
    from chuchu.corpus.splitting import split_document

    passage = split_document(read_corpus(small_corpus).documents[0])[0]
    assert embedding_text(passage) == passage.text


def test_the_change_counts_pair_edited_passages_within_a_file():
    old = [("a", "1"), ("a", "2"), ("a", "3"), ("b", "4"), ("c", "5")]
    new = [("a", "1"), ("a", "2x"), ("a", "new"), ("a", "3"), ("b", "4"), ("d", "6")]
    changes = compare(old, new, "before")
    assert changes.since == "before"
    assert changes.documents == Tally(added=1, changed=1, removed=1, unchanged=1)
    assert changes.passages == Tally(added=2, changed=1, removed=1, unchanged=3)
    repeated = compare([("a", "1"), ("a", "1")], [("a", "1")])
    assert repeated.passages == Tally(removed=1, unchanged=1), "a repeated paragraph counts each time"


def test_a_second_build_stops_with_a_clear_message_or_waits(tmp_path, cache):
    corpus, store = _corpus(tmp_path / "docs", FILES), Store(tmp_path / "store")
    lock = BuildLock(store.root).acquire()
    try:
        with pytest.raises(BuildError, match=r"Another build is running on .*pid \d+.*pass --wait"):
            build_index(corpus, store, HashingEmbedder(), cache=cache)
        assert store.live_id() is None and not store.builds.exists()
        threading.Timer(0.3, lock.release).start()
        summary = build_index(corpus, store, HashingEmbedder(), cache=cache, wait=True, wait_timeout=30)
    finally:
        lock.release()
    assert store.live_id() == summary.build_id


def test_a_build_can_use_the_lock_its_caller_holds(tmp_path, cache):
    corpus, store = _corpus(tmp_path / "docs", FILES), Store(tmp_path / "store")
    with BuildLock(store.root) as lock:
        summary = build_index(corpus, store, HashingEmbedder(), cache=cache, lock=lock)
        assert lock.held and store.live_id() == summary.build_id
    with BuildLock(tmp_path / "elsewhere") as other, pytest.raises(BuildError, match="needs the build lock"):
        build_index(corpus, store, HashingEmbedder(), cache=cache, lock=other)


def test_the_cli_says_another_build_is_running_before_loading_the_model(tmp_path, monkeypatch, capsys):
    def unexpected(settings):
        raise AssertionError("the model was loaded")

    monkeypatch.setattr("chuchu.service.cli._embedder", unexpected)
    monkeypatch.setenv("CHUCHU_EMBEDDING_CACHE", str(tmp_path / "cache"))
    corpus, store = _corpus(tmp_path / "docs", FILES), tmp_path / "store"
    with BuildLock(store):
        assert main(["build", "--corpus", str(corpus), "--store", str(store)]) == 2
    assert "Another build is running" in capsys.readouterr().err
    monkeypatch.setattr("chuchu.service.cli._embedder", lambda settings: HashingEmbedder())
    assert main(["build", "--corpus", str(corpus), "--store", str(store)]) == 0


# A build with a slow fake model, killed by the test while embedding.
KILLABLE = """
import sys, time
from pathlib import Path
from chuchu.index.build import build_index
from chuchu.index.cache import EmbeddingCache
from chuchu.index.store import Store
from tests.fakes import CountingEmbedder, HashingEmbedder

class Slow(HashingEmbedder):
    def embed_passages(self, texts, batch_size=32):
        print("embedding", flush=True)
        time.sleep(1)
        return super().embed_passages(texts, batch_size)

corpus, store, cache = map(Path, sys.argv[1:])
with EmbeddingCache(cache, Slow.fingerprint, Slow.dimension) as c:
    build_index(corpus, Store(store), Slow(), batch_size=2, cache=c)
print("finished", flush=True)
"""


def test_a_build_killed_mid_embedding_leaves_the_live_build_and_the_next_build_succeeds(tmp_path):
    corpus, store = _corpus(tmp_path / "docs", FILES), Store(tmp_path / "store")
    with EmbeddingCache(tmp_path / "cache", HashingEmbedder.fingerprint, HashingEmbedder.dimension) as cache:
        live = build_index(corpus, store, HashingEmbedder(), cache=cache).build_id
    (corpus / "丁.txt").write_text("\n".join(_line("丁", i) for i in range(1, 11)) + "\n", encoding="utf-8")
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLABLE, str(corpus), str(store.root), str(tmp_path / "cache")],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert proc.stdout is not None
        assert [proc.stdout.readline(), proc.stdout.readline()] == ["embedding\n"] * 2  # one batch is done
    finally:
        proc.kill()
        proc.stdout.close()
    assert proc.wait(timeout=10) == -signal.SIGKILL
    partials = list(store.builds.glob("*" + PARTIAL))
    assert len(partials) == 1, "the killed build left its working directory"
    assert store.live_id() == live and read_snapshot(store.live_path()).build_id == live
    assert [b.build_id for b in store.list_builds()] == [live]

    model = CountingEmbedder()
    with EmbeddingCache(tmp_path / "cache", HashingEmbedder.fingerprint, HashingEmbedder.dimension) as cache:
        summary = build_index(corpus, store, model, cache=cache)
    assert summary.swept == (partials[0].name.removesuffix(PARTIAL),)
    assert not list(store.builds.glob("*" + PARTIAL))
    assert store.live_id() == summary.build_id != live
    assert summary.reused == 15 + 2 and summary.embedded == 8 == len(model.texts), "the finished batch was kept"


def test_old_builds_are_pruned_after_publishing_but_never_below_two(tmp_path, cache):
    corpus, store = _corpus(tmp_path / "docs", FILES), Store(tmp_path / "store")

    def build(keep=None):
        return build_index(corpus, store, HashingEmbedder(), cache=cache, keep=keep)

    ids = [build().build_id for _ in range(3)]
    summary = build(keep=3)
    assert summary.pruned == (ids[0],)
    assert [b.build_id for b in store.list_builds()] == [summary.build_id, ids[2], ids[1]]
    ids.append(summary.build_id)
    summary = build(keep=1)
    assert MIN_KEEP == 2 and [b.build_id for b in store.list_builds()] == [summary.build_id, ids[3]]

    latest = summary.build_id
    store.rollback(ids[3])
    summary = build(keep=2)
    assert summary.pruned == (), "the build live before the new one is kept, even when older than the newest two"
    assert [b.build_id for b in store.list_builds()] == [summary.build_id, latest, ids[3]]
    assert build(keep=2).pruned == (latest, ids[3])


def test_a_cache_of_another_model_is_refused(tmp_path):
    corpus, store = _corpus(tmp_path / "docs", FILES), Store(tmp_path / "store")
    with EmbeddingCache(tmp_path / "cache", "another-model", 64) as other, pytest.raises(BuildError, match="another"):
        build_index(corpus, store, HashingEmbedder(), cache=other)


# The gate: a question only the first corpus answers.
QUESTIONS = [
    {"id": "q1", "question": "乙镇新建了几座学校", "type": "figure", "evidence": ["乙镇第3段：今年全镇新建学校3座"]},
    {"id": "q2", "question": "甲镇新建了几座水库", "type": "figure", "evidence": ["甲镇第5段：今年全镇新建水库5座"]},
    {"id": "q3", "question": "丙镇有几座机场", "type": "unanswerable", "evidence": []},
]


@pytest.fixture()
def questions(tmp_path):
    path = tmp_path / "questions.jsonl"
    path.write_text("".join(json.dumps(q, ensure_ascii=False) + "\n" for q in QUESTIONS), encoding="utf-8")
    return path


def test_the_gate_records_the_figures_in_the_manifest(tmp_path, cache, questions):
    corpus, store = _corpus(tmp_path / "docs", FILES), Store(tmp_path / "store")
    summary = build_index(corpus, store, HashingEmbedder(), cache=cache, gate=Gate(questions))
    quality = Manifest.read(store.live_path()).quality
    assert quality == summary.quality and quality is not None
    assert quality["questions"]["file"] == "questions.jsonl" and len(quality["questions"]["sha256"]) == 64
    assert quality["questions"]["count"] == 3 and (quality["mode"], quality["k"]) == ("hybrid", 10)
    assert quality["recall@5"] == quality["recall@10"] == 1.0 and 0 < quality["mrr@10"] <= 1
    assert set(quality) >= {"recall@1", "abstention_accuracy"} and "compared_with" not in quality


def test_the_gate_refuses_a_worse_build_and_the_live_build_stays(tmp_path, cache, questions, monkeypatch, capsys):
    corpus, store = _corpus(tmp_path / "docs", FILES), Store(tmp_path / "store")
    live = build_index(corpus, store, HashingEmbedder(), cache=cache).build_id  # not gated: measured now
    worse = {**FILES, "乙.txt": FILES["乙.txt"][:2]}  # no more 乙镇 school
    _corpus(corpus, worse)
    monkeypatch.setattr("chuchu.service.cli._embedder", lambda settings: HashingEmbedder())
    monkeypatch.setenv("CHUCHU_EMBEDDING_CACHE", str(tmp_path / "cli-cache"))
    args = ["build", "--corpus", str(corpus), "--store", str(store.root), "--gate", str(questions)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "quality gate refused the new build" in err and "recall@5 on questions.jsonl is 0.500" in err
    assert f"below the 1.000 of the live build {live}" in err and f"build {live} stays live" in err
    assert store.live_id() == live and [b.build_id for b in store.list_builds()] == [live]
    assert not list(store.builds.glob("*" + PARTIAL)), "the refused build is removed"

    monkeypatch.setenv("CHUCHU_GATE_MARGIN", "0.6")
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "quality on questions.jsonl: R@1" in out and "R@5 0.500" in out and "live build R@5 1.000" in out
    assert store.live_id() != live


def test_the_gate_uses_the_live_builds_recorded_figures_for_the_same_questions(tmp_path, cache, questions, monkeypatch):
    import chuchu.index.gate as gate_module

    corpus, store = _corpus(tmp_path / "docs", FILES), Store(tmp_path / "store")
    build_index(corpus, store, HashingEmbedder(), cache=cache, gate=Gate(questions))
    measured = []
    real = gate_module.measure
    monkeypatch.setattr(gate_module, "measure", lambda s, q, src: measured.append(s.snapshot.path) or real(s, q, src))
    summary = build_index(corpus, store, HashingEmbedder(), cache=cache, gate=Gate(questions))
    assert len(measured) == 1 and measured[0].name.endswith(PARTIAL), "only the new build was measured"
    assert summary.quality is not None and summary.quality["compared_with"]["recall@5"] == 1.0

    questions.write_text(questions.read_text(encoding="utf-8") + "\n", encoding="utf-8")  # another sha256
    build_index(corpus, store, HashingEmbedder(), cache=cache, gate=Gate(questions))
    assert len(measured) == 3, "with another question file, the live build is measured again"


def test_the_cli_lists_builds_and_rolls_back(tmp_path, cache, questions, capsys):
    corpus, store = _corpus(tmp_path / "docs", FILES), Store(tmp_path / "store")
    old = build_index(corpus, store, HashingEmbedder(), cache=cache).build_id
    new = build_index(corpus, store, HashingEmbedder(), cache=cache, gate=Gate(questions)).build_id
    capsys.readouterr()
    assert main(["builds", "--store", str(store.root)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:4] == ["build", "built", "(UTC)", "docs"]
    assert lines[1].startswith(f"*  {new}") and "R@5 1.000" in lines[1] and "on questions.jsonl" in lines[1]
    assert lines[2].startswith(f"   {old}") and lines[2].split()[3:] == ["3", "15", "exact", "-"]
    assert lines[-1] == "* live"

    assert main(["rollback", "--store", str(store.root)]) == 0
    assert f"build {old} is live (was {new})" in capsys.readouterr().out
    assert store.live_id() == old
    assert main(["rollback", new, "--store", str(store.root)]) == 0 and store.live_id() == new
    assert main(["rollback", "20990101T000000-ffffff", "--store", str(store.root)]) == 2
    assert "no published build '20990101T000000-ffffff'" in capsys.readouterr().err

    assert main(["builds", "--json", "--store", str(store.root)]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["id"], r["live"], r["passages"]) for r in rows] == [(new, True, 15), (old, False, 15)]
    assert rows[0]["quality"]["recall@5"] == 1.0 and rows[1]["quality"] is None


def test_rollback_waits_for_or_refuses_a_running_build(tmp_path, cache, capsys):
    corpus, store = _corpus(tmp_path / "docs", FILES), Store(tmp_path / "store")
    old = build_index(corpus, store, HashingEmbedder(), cache=cache).build_id
    build_index(corpus, store, HashingEmbedder(), cache=cache)
    with BuildLock(store.root):
        assert main(["rollback", "--store", str(store.root)]) == 2
        assert "Another build is running" in capsys.readouterr().err
    assert main(["rollback", "--wait", "--store", str(store.root)]) == 0 and store.live_id() == old


def test_the_cli_build_prints_a_progress_bar_and_the_summary(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("chuchu.service.cli._embedder", lambda settings: HashingEmbedder())
    monkeypatch.setenv("CHUCHU_EMBEDDING_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("CHUCHU_BATCH_SIZE", "4")
    corpus, store = _corpus(tmp_path / "docs", FILES), tmp_path / "store"
    assert main(["build", "--corpus", str(corpus), "--store", str(store)]) == 0
    captured = capsys.readouterr()
    assert "embedding passages: 100%" in captured.err and "15/15" in captured.err and "passage/s" in captured.err
    lines = captured.out.splitlines()
    build_id = Store(store).live_id()
    assert lines[0].startswith(f"built {build_id} in ") and lines[0].endswith(str(store / "builds" / build_id))
    assert lines[1].split() == "documents 3: 3 added, 0 changed, 0 removed, 0 unchanged (no build was live)".split()
    assert lines[2].split() == "passages 15: 15 added, 0 changed, 0 removed, 0 unchanged".split()
    assert lines[3].strip() == "vectors: 15 passages embedded, 0 reused from the embedding cache"

    assert main(["build", "--corpus", str(corpus), "--store", str(store)]) == 0
    captured = capsys.readouterr()
    assert "embedding" not in captured.err, "nothing to embed, no bar"
    assert "vectors: 0 passages embedded, 15 reused from the embedding cache" in captured.out
    assert f"0 removed, 3 unchanged since build {build_id}" in captured.out


# The model loaded only when something must be embedded.


class Loader:
    def __init__(self, model=None):
        self.model, self.calls = model or HashingEmbedder(), 0

    def __call__(self):
        self.calls += 1
        return self.model


def test_a_remembered_model_is_loaded_only_to_embed(tmp_path):
    load = Loader()
    first = LazyEmbedder(load, "folder-1", tmp_path)
    assert load.calls == 1 and first.loaded, "unknown: loaded to learn its fingerprint"
    second = LazyEmbedder(load, "folder-1", tmp_path)
    assert load.calls == 1 and not second.loaded
    assert (second.name, second.fingerprint, second.dimension) == ("hashing-test-embedder", "hashing-v1", 64)
    assert second.embed_passages(["甲镇"]).shape == (1, 64) and load.calls == 2 and second.loaded
    second.embed_queries(["乙县"])
    assert load.calls == 2
    LazyEmbedder(load, None, tmp_path)
    assert load.calls == 3, "a model that is not a local folder is always loaded"


def test_a_model_that_disagrees_with_its_record_stops_the_build_and_corrects_it(tmp_path):
    class Other(HashingEmbedder):
        fingerprint = "hashing-v2"

    remember(tmp_path, "folder-1", HashingEmbedder())
    stale = LazyEmbedder(Loader(Other()), "folder-1", tmp_path)
    assert stale.fingerprint == "hashing-v1"
    corpus, store = _corpus(tmp_path / "docs", FILES), Store(tmp_path / "store")
    with pytest.raises(ModelError, match="hashing-v2.*remembered hashing-v1.*run the build again"):
        build_index(corpus, store, stale)
    assert store.live_id() is None
    assert LazyEmbedder(Loader(Other()), "folder-1", tmp_path).fingerprint == "hashing-v2"


def test_a_model_folder_identity_changes_with_any_file(tmp_path):
    folder = tmp_path / "model"
    (folder / "sub").mkdir(parents=True)
    (folder / "weights").write_bytes(b"1234")
    (folder / "sub" / "config.json").write_text("{}")
    before = folder_identity("m", folder)
    assert folder_identity("m", folder) == before != folder_identity("other", folder)
    (folder / "weights").write_bytes(b"12345")
    assert folder_identity("m", folder) != before
    now = folder_identity("m", folder)
    time.sleep(0.01)
    (folder / "sub" / "config.json").write_text("{}")  # same size, new time
    assert folder_identity("m", folder) != now


def test_a_bad_question_file_fails_before_anything_is_embedded(tmp_path, cache):
    from chuchu.corpus.errors import BadInput

    corpus, store = _corpus(tmp_path / "docs", FILES), Store(tmp_path / "store")
    model = CountingEmbedder()
    with pytest.raises(BadInput, match="cannot be read"):
        build_index(corpus, store, model, cache=cache, gate=Gate(tmp_path / "missing.jsonl"))
    unanswerable = tmp_path / "none.jsonl"
    unanswerable.write_text(json.dumps(QUESTIONS[2], ensure_ascii=False) + "\n", encoding="utf-8")
    with pytest.raises(BadInput, match="no answerable question"):
        build_index(corpus, store, model, cache=cache, gate=Gate(unanswerable))
    assert model.texts == [] and store.list_builds() == [] and not list(store.builds.glob("*"))


def test_progress_counts_the_passages_then_the_sentences_the_model_embeds(tmp_path, cache):
    lines = [f"第{i}段。今年新建{ITEMS[i % 5]}{i}座。投入资金{i * 100}万元。" for i in range(1, 7)]
    corpus, store = _corpus(tmp_path / "docs", {"甲.txt": lines}), Store(tmp_path / "store")
    calls: list[tuple[int, int, str]] = []
    first = build_index(corpus, store, HashingEmbedder(), cache=cache, progress=lambda *a: calls.append(a))
    passages = [c for c in calls if c[2] == "passage"]
    sentences = [c for c in calls if c[2] == "sentence"]
    assert passages and passages[-1][:2] == (first.passages, first.passages)
    assert calls.index(sentences[0]) > calls.index(passages[-1]), "the sentences come after the passages"
    # Three sentences a line, none repeated: every one is embedded once.
    assert sentences[-1][:2] == (3 * len(lines), 3 * len(lines))

    calls.clear()
    build_index(corpus, store, HashingEmbedder(), cache=cache, progress=lambda *a: calls.append(a))
    assert calls == [], "an unchanged corpus embeds nothing, and says nothing"
