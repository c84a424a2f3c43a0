import json
import threading

import pytest

import chuchu.index.store as store_module
from chuchu.corpus.errors import BadInput, IndexCorrupt, IndexMissing, NotFound
from chuchu.index.store import PARTIAL, POINTER, BuildInfo, Store

# Three builds a second apart, oldest first: ids sort by the UTC second they started.
OLD, MIDDLE, NEW = "20260101T000001-aaaaaa", "20260101T000002-bbbbbb", "20260101T000003-cccccc"


def _published(store: Store, *ids: str, live: str | None = None) -> None:
    """Builds with the ids given, as publish leaves them, without running a real build."""
    for build_id in ids:
        work = store.builds / (build_id + PARTIAL)
        work.mkdir(parents=True)
        (work / "manifest.json").write_text(json.dumps({"build_id": build_id, "built_at": build_id, "passages": 3}))
        store.publish(build_id)
    if live is not None:
        store.point(live)


def test_no_build_yet_says_to_run_build(tmp_path):
    with pytest.raises(IndexMissing, match="chuchu build"):
        Store(tmp_path).live_path()


def test_a_pointer_to_a_missing_build_names_it(tmp_path):
    (tmp_path / POINTER).write_text("20990101T000000-abcdef\n")
    with pytest.raises(IndexCorrupt, match="20990101T000000-abcdef"):
        Store(tmp_path).live_path()


def test_publish_renames_the_work_directory_and_points_at_it(tmp_path):
    store = Store(tmp_path)
    build_id, work = store.start()
    (work / "manifest.json").write_text("{}")
    path = store.publish(build_id)
    assert path == store.builds / build_id == store.live_path() and (path / "manifest.json").is_file()
    assert not work.exists()
    assert (tmp_path / POINTER).read_text() == build_id + "\n"
    assert not list(tmp_path.glob(f".{POINTER}.*")), "no temporary pointer is left behind"


def test_publish_flushes_the_directories_holding_the_renames(tmp_path, monkeypatch):
    flushed = []
    monkeypatch.setattr(store_module, "_fsync_dir", flushed.append)
    store = Store(tmp_path)
    build_id, work = store.start()
    store.publish(build_id)
    assert flushed == [work, store.builds, store.root]


def test_builds_are_listed_newest_first_with_their_manifest(tmp_path):
    store = Store(tmp_path)
    assert store.list_builds() == []
    _published(store, NEW, OLD, MIDDLE, live=MIDDLE)
    (store.builds / OLD / "manifest.json").write_text("{broken")
    (store.builds / NEW / "manifest.json").write_text(
        json.dumps({"built_at": "2026-01-01T00:00:03+00:00", "documents": 2, "passages": 7, "quality": {"r@1": 0.9}})
    )
    store.start()  # a build in progress is not listed
    builds = store.list_builds()
    assert [b.build_id for b in builds] == [NEW, MIDDLE, OLD]
    assert [b.live for b in builds] == [False, True, False]
    new, _, old = builds
    assert isinstance(new, BuildInfo) and new.path == store.builds / NEW
    assert (new.built_at, new.documents, new.passages, new.quality) == ("2026-01-01T00:00:03+00:00", 2, 7, {"r@1": 0.9})
    assert old.manifest == {} and old.built_at is None and old.quality is None


def test_point_makes_a_published_build_live(tmp_path):
    store = Store(tmp_path)
    _published(store, OLD, NEW)
    assert store.live_id() == NEW
    assert store.point(OLD) == store.builds / OLD
    assert store.live_id() == OLD and store.live_path() == store.builds / OLD


@pytest.mark.parametrize("build_id", ["20990101T000000-ffffff", "../builds/" + OLD, NEW + PARTIAL, ""])
def test_point_refuses_what_is_not_a_published_build_and_lists_those_that_are(tmp_path, build_id):
    store = Store(tmp_path)
    _published(store, OLD)
    store.builds.joinpath(NEW + PARTIAL).mkdir()
    with pytest.raises(NotFound, match="no published build") as info:
        store.point(build_id)
    assert f"published builds: {OLD} (live)." in info.value.message
    assert store.live_id() == OLD


def test_point_on_an_empty_store_says_to_build(tmp_path):
    with pytest.raises(NotFound, match="run `chuchu build`"):
        Store(tmp_path).point(OLD)


def test_rollback_steps_back_one_build_at_a_time(tmp_path):
    store = Store(tmp_path)
    _published(store, OLD, MIDDLE, NEW)
    assert store.rollback() == MIDDLE and store.live_id() == MIDDLE
    assert store.rollback() == OLD and store.live_id() == OLD
    with pytest.raises(NotFound, match="oldest published build"):
        store.rollback()
    assert store.live_id() == OLD


def test_rollback_to_a_named_build_may_also_go_forward(tmp_path):
    store = Store(tmp_path)
    _published(store, OLD, MIDDLE, NEW, live=OLD)
    assert store.rollback(NEW) == NEW and store.live_id() == NEW
    with pytest.raises(NotFound, match=f"{NEW} \\(live\\)"):
        store.rollback("20990101T000000-ffffff")


def test_rollback_without_a_live_build_says_to_name_one(tmp_path):
    store = Store(tmp_path)
    _published(store, OLD)
    (tmp_path / POINTER).unlink()
    with pytest.raises(NotFound, match=f"No build is live.*name the build.*{OLD}"):
        store.rollback()
    (tmp_path / POINTER).write_text("20990101T000000-ffffff\n")
    with pytest.raises(NotFound, match="not among the published builds"):
        store.rollback()


def test_prune_keeps_the_newest_and_never_the_live_one(tmp_path):
    store = Store(tmp_path)
    older = "20260101T000000-000000"
    _published(store, older, OLD, MIDDLE, NEW, live=OLD)
    assert store.prune(keep=2) == [older]
    assert [b.build_id for b in store.list_builds()] == [NEW, MIDDLE, OLD], "the live build is kept besides the 2"
    assert store.prune(keep=0) == [NEW, MIDDLE]
    assert [b.build_id for b in store.list_builds()] == [OLD] and store.live_path() == store.builds / OLD
    assert store.prune(keep=0) == []
    assert not list(store.builds.glob("*" + PARTIAL))


def test_prune_refuses_a_negative_count(tmp_path):
    with pytest.raises(BadInput, match="0 or more"):
        Store(tmp_path).prune(-1)


def test_a_prune_killed_half_way_leaves_a_partial_not_a_half_build(tmp_path, monkeypatch):
    store = Store(tmp_path)
    _published(store, OLD, NEW)
    monkeypatch.setattr(store_module.shutil, "rmtree", lambda *a, **k: None)  # killed before deleting
    store.prune(keep=1)
    assert [b.build_id for b in store.list_builds()] == [NEW]
    with pytest.raises(NotFound):
        store.rollback()
    monkeypatch.undo()
    assert store.sweep_partials() == [OLD]


def test_sweep_partials_removes_what_killed_builds_left(tmp_path):
    store = Store(tmp_path)
    _published(store, OLD)
    killed, work = store.start()
    (work / "vectors.faiss").write_bytes(b"half")
    (tmp_path / f".{POINTER}.{killed}").write_text("half")  # a point() killed before its os.replace
    assert store.sweep_partials() == [killed]
    assert not work.exists() and not list(tmp_path.glob(f".{POINTER}.*"))
    assert [b.build_id for b in store.list_builds()] == [OLD] and store.live_id() == OLD
    assert store.sweep_partials() == []
    assert Store(tmp_path / "empty").sweep_partials() == []


def test_readers_always_see_one_build_or_the_other_while_the_pointer_changes(tmp_path):
    store = Store(tmp_path)
    _published(store, OLD, NEW)
    done = threading.Event()

    def flip() -> None:
        for i in range(200):
            store.point(OLD if i % 2 else NEW)
        done.set()

    seen = set()
    thread = threading.Thread(target=flip)
    thread.start()
    while not done.is_set():
        seen.add(store.live_id())
        seen.add(store.live_path().name)
    thread.join()
    assert seen <= {OLD, NEW}


def test_what_is_not_a_build_is_neither_listed_nor_pruned(tmp_path):
    store = Store(tmp_path)
    _published(store, OLD, NEW)
    (store.builds / "notes").mkdir()
    (store.builds / "20260101T000009-dddddd").write_text("a file, not a build")
    assert [b.build_id for b in store.list_builds()] == [NEW, OLD]
    assert store.prune(keep=0) == [OLD]
    assert (store.builds / "notes").is_dir() and (store.builds / "20260101T000009-dddddd").is_file()
