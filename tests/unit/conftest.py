import pytest

from tests.fakes import HashingEmbedder


@pytest.fixture()
def fake_embedder():
    return HashingEmbedder()


@pytest.fixture()
def small_corpus(tmp_path):
    root = tmp_path / "docs"
    root.mkdir()
    (root / "a.txt").write_text(
        "甲镇报告\n甲镇今年种植一季稻12330亩，比去年增加了不少，农业生产稳中有进。\n"
        "甲镇新建了三座桥梁，方便了群众出行，道路交通条件明显改善。\n",
        encoding="utf-8",
    )
    (root / "b.txt").write_text("乙县引进了电子信息企业二十家，工业总产值增长百分之十二。\n", encoding="gb18030")
    return root


@pytest.fixture()
def fake_store(tmp_path, small_corpus, fake_embedder):
    from chuchu.index.build import build_index
    from chuchu.index.store import Store

    store = Store(tmp_path / "store")
    build_index(small_corpus, store, fake_embedder)
    return store


@pytest.fixture()
def fake_client(tmp_path, fake_store, fake_embedder):
    from chuchu.index.live import LiveIndex
    from chuchu.service.app import create_app
    from chuchu.service.settings import Settings

    settings = Settings.load(store=fake_store.root)
    return create_app(settings, LiveIndex(fake_store, lambda: fake_embedder)).test_client()


@pytest.fixture()
def app_with(fake_store, fake_embedder):
    """A client of an app over the fake index with some settings changed."""
    from chuchu.index.live import LiveIndex
    from chuchu.service.app import create_app
    from chuchu.service.settings import Settings

    def make(**overrides):
        settings = Settings.load({}, store=fake_store.root, **overrides)
        return create_app(settings, LiveIndex(fake_store, lambda: fake_embedder)).test_client()

    return make
