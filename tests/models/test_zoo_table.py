"""The zoo table: the packaged ``zoo_table.json`` loads into complete entries whose facts equal the published ones."""

from __future__ import annotations

import dataclasses
import json
from importlib import resources

import pytest

from torchreid.models.zoo_table import NUM_CLASSES, TABLE_FILE, ZOO, ZooEntry, load_zoo_table

FIELDS = {f.name for f in dataclasses.fields(ZooEntry)}


def _records() -> list[dict]:
    return json.loads(resources.files("torchreid.models").joinpath(TABLE_FILE).read_text())["entries"]


def test_json_file_is_the_table():
    records = _records()
    assert len(records) == len(ZOO) == 53
    assert [r["name"] for r in records] == list(ZOO)
    assert load_zoo_table() == ZOO


def test_every_entry_is_complete():
    for record in _records():
        assert set(record) == FIELDS, record["name"]
    for name, e in ZOO.items():
        assert e.name == name and e.arch and e.trained_on and len(e.gdrive_id) == 33, name
        assert isinstance(e.input_size, tuple) and len(e.input_size) == 2, name
        assert isinstance(e.transforms, tuple) and e.transforms[0] == "random_flip", name
        assert e.distance in ("euclidean", "cosine"), name
        assert e.metrics and all(set(m) == {"rank1", "mAP"} for m in e.metrics.values()), name
        assert all(0 < v < 100 for m in e.metrics.values() for v in m.values()), name
        assert e.sha256 is None or len(e.sha256) == 64, name
        if e.trained_on in NUM_CLASSES:
            assert e.num_classes == NUM_CLASSES[e.trained_on], name


@pytest.mark.parametrize(
    ("name", "gdrive_id", "metrics"),
    [
        ("resnet50_market1501", "1dUUZ4rHDWohmsQXCRe2C_HbYkzz94iBV", {"market1501": (87.9, 70.4)}),
        ("hacnn_msmt17", "1MsKRtPM5WJ3_Tk2xC0aGOO7pM3VaFDNZ", {"msmt17": (64.7, 37.2)}),
        ("osnet_x0_25_market1501", "1z1UghYvOTtjx7kEoRfmqSMu-z62J6MAj", {"market1501": (91.2, 75.0)}),
        (
            "osnet_x1_0_msmt17_combineall",
            "1IosIFlLiulGIjwW3H8uMRmx3MzPwf86x",
            {"market1501": (66.6, 37.5), "dukemtmcreid": (66.0, 45.3)},
        ),
        (
            "osnet_ain_x1_0_msmt17",
            "1SigwBE6mPdqiJMqhuIY4aqC7--5CsMal",
            {"market1501": (70.1, 43.3), "dukemtmcreid": (71.1, 52.7)},
        ),
        ("osnet_ibn_x1_0_d_m_c", "1BGOSdLdZgqHe2qFafatb-5sPY40JlYfp", {"msmt17": (39.8, 16.2)}),
    ],
)
def test_known_entries(name, gdrive_id, metrics):
    e = ZOO[name]
    assert e.gdrive_id == gdrive_id
    assert e.metrics == {t: {"rank1": r1, "mAP": m} for t, (r1, m) in metrics.items()}


def test_known_details():
    e = ZOO["osnet_ain_x1_0_msmt17"]
    assert e.trained_on == "msmt17_combineall" and e.num_classes == 4101 and e.distance == "cosine"
    assert e.mega == "YTZFnSJY!wlbo_5oa2TpDAGyWCTKTX1hh4d6DvJhh_RUA2z6i_so"
    assert e.sha256 == "8a07e8da38946f7cee37f4561617bf8b6d2fe8f3a4027852893ea092e46d919f"
    assert e.hf_filename.startswith("osnet_ain_x1_0_msmt17_256x128_amsgrad_ep50")
    assert e.transforms == ("random_flip", "color_jitter")
    assert e.notes == "cross-domain (MSMT17 with combineall=True)"
    hacnn = ZOO["hacnn_market1501"]
    assert hacnn.input_size == (160, 64) and hacnn.notes == "trained from scratch"
    assert hacnn.transforms == ("random_flip", "random_crop")
    multi = ZOO["osnet_x1_0_ms_d_c"]
    assert multi.trained_on == "msmt17+dukemtmcreid+cuhk03" and multi.num_classes is None
    assert multi.mega is None and multi.distance == "cosine"


def test_omitted_fields_take_the_defaults():
    text = json.dumps(
        {"entries": [{"name": "a", "arch": "osnet_x1_0", "trained_on": "x", "gdrive_id": "g", "metrics": {}}]}
    )
    e = load_zoo_table(text)["a"]
    assert e.input_size == (256, 128) and e.transforms == ("random_flip",) and e.sha256 is None


def test_bad_records_are_named():
    bad = {"name": "a", "arch": "osnet_x1_0", "trained_on": "x", "gdrive_id": "g", "metrics": {}, "colour": 1}
    with pytest.raises(ValueError, match=r"bad record 'a'.*colour"):
        load_zoo_table(json.dumps({"entries": [bad]}))
    ok = {k: v for k, v in bad.items() if k != "colour"}
    with pytest.raises(ValueError, match="duplicate zoo name 'a'"):
        load_zoo_table(json.dumps({"entries": [ok, ok]}))
