"""The manifest: what a build is, how it was made, and the checks made when it is loaded."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from chuchu.corpus.errors import IndexCorrupt

FORMAT_VERSION = 3
MANIFEST = "manifest.json"


# What each field must hold. A manifest is written by a build, but read from a file anyone can
# edit: checked here, a wrong type is refused by name instead of failing later in some reader.
_TYPES: dict[str, tuple[type, ...]] = {
    **dict.fromkeys(("build_id", "built_at", "model", "model_fingerprint", "corpus_hash"), (str,)),
    **dict.fromkeys(("dimension", "documents", "passages", "format_version"), (int,)),
    "versions": (dict,),
    "settings": (dict,),
    "quality": (dict, type(None)),
    "files": (dict, type(None)),
    "manifest_sha256": (str, type(None)),
}
_TYPE_NAMES = {str: "a string", int: "a whole number", dict: "an object", type(None): "null"}


@dataclass(frozen=True)
class Manifest:
    """Everything recorded about one build."""

    build_id: str
    built_at: str  # ISO 8601, UTC
    model: str
    model_fingerprint: str
    dimension: int
    documents: int
    passages: int
    corpus_hash: str
    versions: dict[str, str]
    settings: dict[str, Any] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION
    # Figures on a question file (index.gate), when the build was gated; builds before the gate
    # existed have none, which is why the field is optional rather than a new format version.
    quality: dict[str, Any] | None = None
    # The sha256 of each file of the build but this one, checked when the build is loaded, so a
    # file damaged after publishing (truncated, emptied, edited) is refused by name. Optional
    # like quality: builds made before it have none and are checked by their counts only.
    files: dict[str, str] | None = None
    # The sha256 of every other field (``seal``), so that the manifest itself, edited or damaged
    # where no other check looks (the fusion settings, the build time), is refused too. Written
    # by ``write``, checked by ``check_seal`` after the checks that say more; optional like files.
    manifest_sha256: str | None = None

    def write(self, directory: Path) -> None:
        """Write manifest.json into a build directory, sealed."""
        data = {**asdict(self), "manifest_sha256": self.seal()}
        text = json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True)
        (directory / MANIFEST).write_text(text + "\n", encoding="utf-8")

    def seal(self) -> str:
        """The sha256 of every field but manifest_sha256, as canonical JSON."""
        data = {k: v for k, v in asdict(self).items() if k != "manifest_sha256"}
        canonical = json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    def check_seal(self, directory: Path) -> None:
        """Fail when the manifest has been changed since the build wrote it (builds before the seal pass)."""
        if self.manifest_sha256 is not None and self.manifest_sha256 != self.seal():
            raise IndexCorrupt(
                f"{directory / MANIFEST} has changed since the build wrote it (its fields do not match the "
                "manifest_sha256 it records); run `chuchu build` again."
            )

    @classmethod
    def read(cls, directory: Path) -> Manifest:
        """Read and check the shape of a build directory's manifest."""
        path = directory / MANIFEST
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise IndexCorrupt(f"The build at {directory} has no {MANIFEST}; run `chuchu build` again.") from exc
        except (OSError, ValueError) as exc:
            raise IndexCorrupt(f"{path} cannot be read ({exc}); run `chuchu build` again.") from exc
        if not isinstance(data, dict):
            raise IndexCorrupt(f"{path} is not a JSON object; run `chuchu build` again.")
        version = data.get("format_version")
        if version != FORMAT_VERSION:
            raise IndexCorrupt(
                f"{path} has format version {version!r}, this chuchu reads version {FORMAT_VERSION}; "
                "run `chuchu build` to rebuild the index."
            )
        try:
            manifest = cls(**data)
        except TypeError as exc:
            raise IndexCorrupt(f"{path} does not have the fields of a manifest ({exc}); run `chuchu build`.") from exc
        for name, kinds in _TYPES.items():
            value = getattr(manifest, name)
            # bool is an int to isinstance; a count or a dimension that is true or false is not one.
            if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
                raise IndexCorrupt(
                    f"{path} has {name} = {json.dumps(value, ensure_ascii=False)[:80]}, not "
                    f"{' or '.join(_TYPE_NAMES[k] for k in kinds)}; run `chuchu build` again."
                )
        return manifest

    def check_model(self, directory: Path, model: str, fingerprint: str, dimension: int) -> None:
        """Fail unless the index was built by the model that will embed the questions."""
        if self.dimension != dimension:
            raise IndexCorrupt(
                f"The index at {directory} holds {self.dimension}-dimensional vectors, the model "
                f"{model!r} makes {dimension}-dimensional ones; run `chuchu build` with this model."
            )
        if self.model_fingerprint != fingerprint:
            raise IndexCorrupt(
                f"The index at {directory} was built with model {self.model!r} (fingerprint "
                f"{self.model_fingerprint}), but the model loaded now is {model!r} (fingerprint "
                f"{fingerprint}); run `chuchu build` or set CHUCHU_MODEL to the model of the build."
            )

    def check_count(self, directory: Path, what: str, found: int) -> None:
        """Fail unless a file of the build holds as many items as the manifest says."""
        expected = self.passages if what != "documents" else self.documents
        if found != expected:
            raise IndexCorrupt(
                f"The index at {directory} is inconsistent: the manifest counts {expected} {what}, "
                f"the files hold {found}; run `chuchu build` again."
            )
