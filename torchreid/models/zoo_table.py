"""The table of the re-ID model zoo: one :class:`ZooEntry` per weight file the original Torchreid published.

The facts (sources, training data, input size, reported metrics, sha256 where known) are data: one record per
file in ``zoo_table.json`` next to this module, shipped with the package. Loading, verifying and downloading the
files live in :mod:`torchreid.models.zoo`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

HF_REPO = "kaiyangzhou/osnet"
ZOO_PAGE = "https://kaiyangzhou.github.io/deep-person-reid/MODEL_ZOO"
NUM_CLASSES = {"market1501": 751, "dukemtmcreid": 702, "msmt17": 1041, "msmt17_combineall": 4101}


@dataclass(frozen=True)
class ZooEntry:
    """One published weight file.

    ``metrics`` maps an evaluation target to ``{'rank1': .., 'mAP': ..}`` as the original reported them;
    ``sha256`` is ``None`` when no trustworthy digest is known (the file's digest is then logged on first use so
    it can be pinned).
    """

    name: str
    arch: str
    trained_on: str
    gdrive_id: str
    metrics: dict[str, dict[str, float]]
    input_size: tuple[int, int] = (256, 128)
    num_classes: int | None = None
    distance: str = "euclidean"
    mega: str | None = None
    hf_filename: str | None = None
    sha256: str | None = None
    notes: str = ""
    transforms: tuple[str, ...] = field(default=("random_flip",))

    @property
    def gdrive_url(self) -> str:
        return f"https://drive.google.com/uc?id={self.gdrive_id}"

    @property
    def hf_url(self) -> str | None:
        return (
            f"https://huggingface.co/{HF_REPO}/resolve/main/{self.hf_filename}" if self.hf_filename else None
        )

    @property
    def sources(self) -> list[str]:
        """Every known place to get the file, preferred first."""
        urls = [u for u in (self.hf_url,) if u]
        urls.append(f"https://drive.google.com/file/d/{self.gdrive_id}/view")
        if self.mega:
            urls.append(f"https://mega.nz/#!{self.mega}")
        return urls

    def as_dict(self) -> dict[str, Any]:
        """A JSON-friendly description (used by ``torchreid weights list --json``)."""
        return {
            "name": self.name,
            "arch": self.arch,
            "trained_on": self.trained_on,
            "input_size": list(self.input_size),
            "num_classes": self.num_classes,
            "distance": self.distance,
            "metrics": self.metrics,
            "sources": self.sources,
            "sha256": self.sha256,
            "notes": self.notes,
        }


TABLE_FILE = "zoo_table.json"


def load_zoo_table(text: str | None = None) -> dict[str, ZooEntry]:
    """Parse the zoo table (``text``, or the packaged ``zoo_table.json``) into ``{name: ZooEntry}``, file order.

    A record's JSON lists become tuples (``input_size``, ``transforms``); fields a record leaves out take the
    :class:`ZooEntry` defaults. A malformed record or a repeated name is a ``ValueError`` that names it.
    """
    if text is None:
        text = resources.files(__package__).joinpath(TABLE_FILE).read_text(encoding="utf-8")
    zoo: dict[str, ZooEntry] = {}
    for record in json.loads(text)["entries"]:
        try:
            entry = ZooEntry(**{k: tuple(v) if isinstance(v, list) else v for k, v in record.items()})
        except TypeError as exc:
            raise ValueError(f"{TABLE_FILE}: bad record {record.get('name')!r}: {exc}") from exc
        if entry.name in zoo:
            raise ValueError(f"{TABLE_FILE}: duplicate zoo name {entry.name!r}")
        zoo[entry.name] = entry
    return zoo


ZOO: dict[str, ZooEntry] = load_zoo_table()
