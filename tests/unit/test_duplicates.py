from chuchu.index.build import build_index
from chuchu.index.duplicates import duplicate_groups
from chuchu.index.search import Searcher
from chuchu.index.snapshot import read_snapshot
from chuchu.index.store import Store

SERVICE = "在公共服务共享方面，萍乡政务服务“只跑一次”“一次不跑”事项占比达94.48%，企业开办注册缩短至1个工作日。"
REWORDED = SERVICE.replace("公共服务", "公共生活")


def test_identical_and_near_identical_passages_share_a_group():
    texts = ["完全不同的一段话，讲的是农业和乡村振兴的事情。", SERVICE, REWORDED, SERVICE[10:]]
    assert duplicate_groups(texts).tolist() == [0, 1, 1, 1]


def test_copies_are_grouped_before_any_comparison_and_near_copies_still_join_them():
    other = "完全不同的一段话，讲的是农业和乡村振兴的事情。"
    texts = [other, "，", *[SERVICE] * 3000, REWORDED, "，", SERVICE[10:], *[other] * 5]
    groups = duplicate_groups(texts).tolist()
    # Every copy, the reworded one and the shorter one in the group of the first SERVICE (index 2);
    # the passages without bigrams ("，") stay alone, as before.
    assert groups[2:3003] == [2] * 3001 and groups[3004] == 2
    assert groups[:2] == [0, 1] and groups[3003] == 3003 and groups[3005:] == [0] * 5


def test_different_passages_on_one_topic_stay_apart():
    texts = [SERVICE, "萍乡政务服务改革持续深化，群众办事更加便利，满意度逐年提升，获得全省表彰。"]
    assert duplicate_groups(texts).tolist() == [0, 1]


def test_a_duplicate_is_returned_once_with_its_other_locations(tmp_path, fake_embedder):
    root = tmp_path / "docs"
    root.mkdir()
    (root / "a.txt").write_text(
        SERVICE + "\n另一段完全无关的文字，讲述花炮产业的转型升级和安全生产。\n", encoding="utf-8"
    )
    (root / "b.txt").write_text(REWORDED + "\n", encoding="utf-8")
    store = Store(tmp_path / "store")
    build_index(root, store, fake_embedder)
    hits = Searcher(read_snapshot(store.live_path()), fake_embedder).search("政务服务只跑一次", 3)
    assert len(hits) == 2, "three passages, two of them copies: two hits"
    first = hits[0]
    assert "只跑一次" in first.passage.text
    assert [c.file for c in first.also_in] == ["b.txt" if first.passage.file == "a.txt" else "a.txt"]
