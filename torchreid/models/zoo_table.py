"""The table of the re-ID model zoo: one :class:`ZooEntry` per weight file the original Torchreid published.

Facts only (sources, training data, input size, reported metrics, sha256 where known); loading, verifying and
downloading live in :mod:`torchreid.models.zoo`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
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


ZOO: dict[str, ZooEntry] = {}


def _add(entry: ZooEntry) -> None:
    if entry.name in ZOO:  # pragma: no cover - table error
        raise KeyError(f"duplicate zoo name {entry.name!r}")
    ZOO[entry.name] = entry


# --- same-domain re-ID (MODEL_ZOO "Same-domain ReID"): (market1501, dukemtmcreid, msmt17) ----------------------
# arch: ([gdrive ids], [mega ids], [(rank1, mAP)], input size, transforms)
_CROP = ("random_flip", "random_crop")
_SAME_DOMAIN: dict[str, tuple[list[str], list[str], list[tuple[float, float]], tuple[int, int], tuple]] = {
    "resnet50": (
        [
            "1dUUZ4rHDWohmsQXCRe2C_HbYkzz94iBV",
            "17ymnLglnc64NRvGOitY3BqMRS9UWd1wg",
            "1ep7RypVDOthCRIAqDnn4_N-UhkkFHJsj",
        ],
        [
            "FKZjVKaZ!4v_FR8pTvuHoMQIKdstJ_YCsRrtZW2hwWxc-T0JIlHE",
            "JPZjCYhK!YVJbE_4vTc8DX19Rt_FB77YY4BaEA1P6Xb5sNJGep2M",
            "APAxDY4Z!Iou9x8s3ATdYS2SlK2oiJbHrhvlzH7F1gE2qjM-GJGw",
        ],
        [(87.9, 70.4), (78.3, 58.9), (63.2, 33.9)],
        (256, 128),
        _CROP,
    ),
    "resnet50_fc512": (
        [
            "1kv8l5laX_YCdIGVCetjlNdzKIA3NvsSt",
            "13QN8Mp3XH81GK4BPGXobKHKyTGH50Rtx",
            "1fDJLcz4O5wxNSUvImIIjoaIF9u1Rwaud",
        ],
        [
            "EaZjhKyS!lBvD3vAJ4DOmElZkNa7gyPM1RE661GUd2v9kK84gSZE",
            "lXYDSKZa!lumiXkY2H5Sm8gEgTWPBdWKv3ujy4zjrffjERaXkc9I",
            "9PQTXIpL!iI5wgieTCn0Jm-pyg9RCu0RkH43pV3ntHhr1PeqSyT4",
        ],
        [(90.8, 75.3), (81.0, 64.0), (69.6, 38.4)],
        (256, 128),
        _CROP,
    ),
    "mlfn": (
        [
            "1wXcvhA_b1kpDfrt9s2Pma-MHxtj9pmvS",
            "1rExgrTNb0VCIcOnXfMsbwSUW1h2L1Bum",
            "18JzsZlJb3Wm7irCbZbZ07TN4IFKvR6p-",
        ],
        [
            "kHQ3ESLT!NoGc8eHEBZOJZM19THh3DFfRBXIPXzM-sdLmF1mvTXA",
            "8PQXUCaI!mJO1vD9tI739hkNBj2QWUt0VPcZ-s89fSMMGPPP1msc",
            "paIXFQCS!W3ZGkxyF1idwvQzTRDE2p0DhNDki2SBJRfp7S_Cwphk",
        ],
        [(90.1, 74.3), (81.1, 63.2), (66.4, 37.2)],
        (256, 128),
        _CROP,
    ),
    "hacnn": (
        [
            "1LRKIQduThwGxMDQMiVkTScBwR7WidmYF",
            "1zNm6tP4ozFUCUQ7Sv1Z98EAJWXJEhtYH",
            "1MsKRtPM5WJ3_Tk2xC0aGOO7pM3VaFDNZ",
        ],
        [
            "ULQXUQBK!S-8v_pR2xBD3ZpuY0I7Bqift-eX_V84gajHMDG6zUac",
            "wPJTkAQR!XkKd39lsmBZMrCh3JjF6vnNafBZkouVIVdeBqQKdSzA",
            "AXAziKjL!JtMwHz2UYy58gDMQLGakSmF3JOr72o8zmkqlQA-LIpQ",
        ],
        [(90.9, 75.6), (80.1, 63.2), (64.7, 37.2)],
        (160, 64),
        _CROP,
    ),
    "mobilenetv2_x1_0": (
        [
            "18DgHC2ZJkjekVoqBWszD8_Xiikz-fewp",
            "1q1WU2FETRJ3BXcpVtfJUuqq4z3psetds",
            "1j50Hv14NOUAg7ZeB3frzfX-WYLi7SrhZ",
        ],
        [
            "8KYTFAIB!3dL35WQLxSoTSClDTv0kxa81k3fh5hXmAWA4_a3qiOI",
            "hbRXDSCL!YYgqJ6PVUf4clgtUuK2s5FRhYJdU3yTibLscwOTNnDk",
            "5SJTmCYb!ZQ8O2MN9JF4-WDAeX04Xex1KyuBYQ_o2aoMIsTgQ748",
        ],
        [(85.6, 67.3), (74.2, 54.7), (57.4, 29.3)],
        (256, 128),
        _CROP,
    ),
    "mobilenetv2_x1_4": (
        [
            "1t6JCqphJG-fwwPVkRLmGGyEBhGOf2GO5",
            "12uD5FeVqLg9-AFDju2L7SQxjmPb4zpBN",
            "1ZY5P2Zgm-3RbDpbXM0kIBMPvspeNIbXz",
        ],
        [
            "4XZhEKCS!6lTuTRbHIWU5nzJzTPDGykA7sPME8_1ISGsUYFJXZWA",
            "JbQVDIYQ!-7pnjIfpIDt1EoQOvpvuIEcTj3Qg8SE6o_3ZPGWrIcw",
            "gOYDAQrK!sMJO7c_X4iIxoVfV_tXYdzeDJByPo5XkUjEN7Z2JTmM",
        ],
        [(87.0, 68.5), (76.2, 55.8), (60.1, 31.5)],
        (256, 128),
        _CROP,
    ),
    "osnet_x1_0": (
        [
            "1vduhq5DpN2q1g4fYEZfPI17MJeh9qyrA",
            "1QZO_4sNf4hdOKKKzKc-TZU9WW1v6zQbq",
            "112EMUfBPYeYg70w-syK6V6Mx8-Qb9Q1M",
        ],
        [
            "hLoyTSba!fqt7GcKrHJhwe9BtuK0ozgVAQcrlMG8Pm6JsSfr5HEI",
            "ETwGhQYB!h2gHN-H3J4X4WqcJXy2b0pPKl28paydkiS-PDHsEgPM",
            "hWxE2aJA!NGcxu5uYH1qI6DfBTu0KFoi_NfoA0TJcBFW-g43pC0I",
        ],
        [(94.2, 82.6), (87.0, 70.2), (74.9, 43.8)],
        (256, 128),
        ("random_flip",),
    ),
    "osnet_x0_75": (
        [
            "1ozRaDSQw_EQ8_93OUmjDbvLXw9TnfPer",
            "1IE3KRaTPp4OUa6PGTFL_d5_KQSJbP0Or",
            "1QEGO6WnJ-BmUzVPd3q9NoaO_GsPNlmWc",
        ],
        [
            "JO4WAaJa!nQuoqZnYfy0xu7vs2mp28AFceya-ZhrXTry837jvoDQ",
            "lOgkEIoI!fQ5vuYIABIOcRxF-OK-6YxtEufWhyVkYkGB4qPoRYJ4",
            "0exGXI5a!rxtzBayyRK0on0HFq9XO0UtWEBhbV86dFitljhjeWcs",
        ],
        [(93.7, 81.2), (85.8, 69.8), (72.8, 41.4)],
        (256, 128),
        ("random_flip",),
    ),
    "osnet_x0_5": (
        [
            "1PLB9rgqrUM7blWrg4QlprCuPT7ILYGKT",
            "1KoUVqmiST175hnkALg9XuTi1oYpqcyTu",
            "1UT3AxIaDvS2PdxzZmbkLmjtiqq7AIKCv",
        ],
        [
            "QCx0RArD!hqz3Mh0Iif5d8PpQW0frxa-Tepn2a2g24aei7du4MFs",
            "QTxCDIbT!eOZxj4dHl0uFnjKEB-J3YBY98blXZvppgWGA3CGa-tk",
            "ETpiECDa!CCkq4JryztHqgw7spL5zDw0usJpAfEsSd5gPlkMufCc",
        ],
        [(92.5, 79.8), (85.1, 67.4), (69.7, 37.5)],
        (256, 128),
        ("random_flip",),
    ),
    "osnet_x0_25": (
        [
            "1z1UghYvOTtjx7kEoRfmqSMu-z62J6MAj",
            "1eumrtiXT4NOspjyEV4j8cHmlOaaCGk5l",
            "1sSwXSUlj4_tHZequ_iZ8w_Jh0VaRQMqF",
        ],
        [
            "VWxCgSqY!Q4WaQ3j9D7HMhK3jsbvMuwaZ7yBY80T2Zj5V8JAlAKU",
            "5TpwnATK!UvU_Asdy_aJ9SNzuvqhEFoemxSSB8vm_Gm8Xe03jqiA",
            "AWgE3SzD!DngUaNyA7VIqOd2gq10Aty_-ER0CmG0xTJLHLj6_36g",
        ],
        [(91.2, 75.0), (82.0, 61.4), (61.4, 29.5)],
        (256, 128),
        ("random_flip",),
    ),
}

# sha256 of files checked byte for byte (the copies in the project's shared test data), and the digest the
# Hugging Face Hub publishes for its copy of the OSNet-AIN MSMT17 file (17,293,009 bytes)
_KNOWN_SHA256 = {
    "osnet_ain_x1_0_msmt17": "8a07e8da38946f7cee37f4561617bf8b6d2fe8f3a4027852893ea092e46d919f",
    "osnet_x0_25_market1501": "c0ff09177a21417a19bc73bbf5af4eb5d2b097c2074ed35e67819ee6cd93612c",
    "osnet_x0_25_msmt17": "6f57607fed9f502b9efed546108132ee715df5a5b6e6932c6269bacb47f59f99",
}

for _arch, (_ids, _megas, _results, _size, _tfms) in _SAME_DOMAIN.items():
    for _ds, _gid, _mega, (_r1, _map) in zip(
        ("market1501", "dukemtmcreid", "msmt17"), _ids, _megas, _results
    ):
        _name = f"{_arch}_{_ds}"
        _add(
            ZooEntry(
                name=_name,
                arch=_arch,
                trained_on=_ds,
                gdrive_id=_gid,
                mega=_mega,
                metrics={_ds: {"rank1": _r1, "mAP": _map}},
                input_size=_size,
                num_classes=NUM_CLASSES[_ds],
                sha256=_KNOWN_SHA256.get(_name),
                transforms=_tfms,
                notes="trained from scratch" if _arch == "hacnn" else "",
            )
        )

# --- cross-domain re-ID --------------------------------------------------------------------------------------
_JITTER = ("random_flip", "color_jitter")
# (name, arch, trained on, gdrive, mega, {target: (rank1, mAP)}, distance)
_CROSS: list[tuple[str, str, str, str, str, dict[str, tuple[float, float]], str]] = [
    ("osnet_ibn_x1_0_market1501", "osnet_ibn_x1_0", "market1501", "1uWW7_z_IcUmRNPqQOrEBdsvic94fWH37",
     "wXwGxKxK!f8EMk8hBt6AjxU3JIPGMFSMvX7j-Nt5Lp1Gpbqso1Ts", {"dukemtmcreid": (48.5, 26.7)}, "euclidean"),
    ("osnet_ain_x1_0_market1501", "osnet_ain_x1_0", "market1501", "14bNFGm0FhwHEkEpYKqKiDWjLNhXywFAd",
     "QLJE2CRI!FXYc3Vm6Y5Scwx0xvRwBJxId56kf06fIXNLwA_b_1FE", {"dukemtmcreid": (52.4, 30.5)}, "cosine"),
    ("osnet_ibn_x1_0_dukemtmcreid", "osnet_ibn_x1_0", "dukemtmcreid", "1CNxL1IP0BjcE1TSttiVOID1VNipAjiF3",
     "FD4WEKJS!ZGgI-2IwVuX6re09xylChR03o6Dkjpi6KSebrbS0fAA", {"market1501": (57.7, 26.1)}, "euclidean"),
    ("osnet_ain_x1_0_dukemtmcreid", "osnet_ain_x1_0", "dukemtmcreid", "1hypJvq8G04SOby6jvF337GEkg5K_bmCw",
     "4PBQlCCL!9yMHu1WyyBVxqssubLAEyoEfHUiNP4Ggg5On0nCX2S4", {"market1501": (61.0, 30.6)}, "cosine"),
    ("resnet50_msmt17_combineall", "resnet50", "msmt17_combineall", "1yiBteqgIZoOeywE8AhGmEQl7FTVwrQmf",
     "VTpkWSbS!Y8gDnmg7u-sPwnZDhWXrtZNYOj7UYL4QzZkhDf1qWW4",
     {"market1501": (46.3, 22.8), "dukemtmcreid": (52.3, 32.1)}, "euclidean"),
    ("osnet_x1_0_msmt17_combineall", "osnet_x1_0", "msmt17_combineall", "1IosIFlLiulGIjwW3H8uMRmx3MzPwf86x",
     "MepG3QRC!Lb-C9d7rdS_YJjGSoJ5cRlzjYcP28P_1Cm5S5WSslW0",
     {"market1501": (66.6, 37.5), "dukemtmcreid": (66.0, 45.3)}, "euclidean"),
    ("osnet_x0_75_msmt17_combineall", "osnet_x0_75", "msmt17_combineall", "1fhjSS_7SUGCioIf2SWXaRGPqIY9j7-uw",
     "tO4WDagL!8Tl6kdJWRXRHQb16GeUHR008tJqW3N7_3fyVMu-LcKM",
     {"market1501": (63.6, 35.5), "dukemtmcreid": (65.3, 44.5)}, "euclidean"),
    ("osnet_x0_5_msmt17_combineall", "osnet_x0_5", "msmt17_combineall", "1DHgmb6XV4fwG3n-CnCM0zdL9nMsZ9_RF",
     "papSWQhY!IId-QfcHj7nXQ_muUubgv9_n0SsnZzarmb5mQgcMv74",
     {"market1501": (64.3, 34.9), "dukemtmcreid": (65.2, 43.3)}, "euclidean"),
    ("osnet_x0_25_msmt17_combineall", "osnet_x0_25", "msmt17_combineall", "1Kkx2zW89jq_NETu4u42CFZTMVD5Hwm6e",
     "QCoE0Kpa!BITLANumgjiR68TUFteL__N_RIoDKkL0M5Bl3Q8LC3U",
     {"market1501": (59.9, 31.0), "dukemtmcreid": (61.5, 39.6)}, "euclidean"),
    ("osnet_ibn_x1_0_msmt17", "osnet_ibn_x1_0", "msmt17_combineall", "1q3Sj2ii34NlfxA4LvmHdWO_75NDRmECJ",
     "dL4Q2K5B!ZdHQ_X_rs2T-xmggigM5YvzJhmT1orkr6aQ1_fHgunM",
     {"market1501": (66.5, 37.2), "dukemtmcreid": (67.4, 45.6)}, "euclidean"),
    ("osnet_ain_x1_0_msmt17", "osnet_ain_x1_0", "msmt17_combineall", "1SigwBE6mPdqiJMqhuIY4aqC7--5CsMal",
     "YTZFnSJY!wlbo_5oa2TpDAGyWCTKTX1hh4d6DvJhh_RUA2z6i_so",
     {"market1501": (70.1, 43.3), "dukemtmcreid": (71.1, 52.7)}, "cosine"),
]  # fmt: skip

# Copies on the Hugging Face Hub (repo kaiyangzhou/osnet, linked from the original's README)
_HF_FILES = {
    "osnet_x1_0_msmt17_combineall": (
        "osnet_x1_0_msmt17_combineall_256x128_amsgrad_ep150_stp60_lr0.0015_b64_fb10_softmax_labelsmooth_flip_jitter.pth"
    ),
    "osnet_x0_25_msmt17_combineall": (
        "osnet_x0_25_msmt17_combineall_256x128_amsgrad_ep150_stp60_lr0.0015_b64_fb10_softmax_labelsmooth_flip_jitter.pth"
    ),
    "osnet_ain_x1_0_msmt17": (
        "osnet_ain_x1_0_msmt17_256x128_amsgrad_ep50_lr0.0015_coslr_b64_fb10_softmax_labsmth_flip_jitter.pth"
    ),
}

for _name, _arch, _ds, _gid, _mega, _res, _dist in _CROSS:
    _add(
        ZooEntry(
            name=_name,
            arch=_arch,
            trained_on=_ds,
            gdrive_id=_gid,
            mega=_mega,
            metrics={t: {"rank1": r1, "mAP": m} for t, (r1, m) in _res.items()},
            num_classes=NUM_CLASSES[_ds],
            distance=_dist,
            hf_filename=_HF_FILES.get(_name),
            sha256=_KNOWN_SHA256.get(_name),
            transforms=_JITTER,
            notes="cross-domain" + (" (MSMT17 with combineall=True)" if "combineall" in _ds else ""),
        )
    )

# --- multi-source domain generalisation (Zhou et al. TPAMI'21), trained on three datasets, tested on the fourth --
# suffix: (sources, target); ms = MSMT17, d = DukeMTMC-reID, m = Market-1501, c = CUHK03
_MULTI = {
    "ms_d_c": ("msmt17+dukemtmcreid+cuhk03", "market1501"),
    "ms_m_c": ("msmt17+market1501+cuhk03", "dukemtmcreid"),
    "ms_d_m": ("msmt17+dukemtmcreid+market1501", "cuhk03"),
    "d_m_c": ("dukemtmcreid+market1501+cuhk03", "msmt17"),
}
_MULTI_FILES: dict[str, list[tuple[str, float, float]]] = {
    "osnet_x1_0": [
        ("1tuYY1vQXReEd8N8_npUkc7npPDDmjNCV", 72.5, 44.2),
        ("1UxUI4NsE108UCvcy3O1Ufe73nIVPKCiu", 65.2, 47.0),
        ("1kAA6qHJvbaJtyh1b39ZyEqWROwUgWIhl", 23.9, 23.3),
        ("1wAHuYVTzj8suOwqCNcEmu6YdbVnHDvA2", 33.2, 12.6),
    ],
    "osnet_ibn_x1_0": [
        ("14sH6yZwuNHPTElVoEZ26zozOOZIej5Mf", 73.0, 44.9),
        ("1Sk-2SSwKAF8n1Z4p_Lm_pl0E6v2WlIBn", 64.6, 45.7),
        ("1actHP7byqWcK4eBE1ojnspSMdo7k2W4G", 25.7, 25.4),
        ("1BGOSdLdZgqHe2qFafatb-5sPY40JlYfp", 39.8, 16.2),
    ],
    "osnet_ain_x1_0": [
        ("1nIrszJVYSHf3Ej8-j6DTFdWz8EnO42PB", 73.3, 45.8),
        ("1YjJ1ZprCmaKG6MH2P9nScB9FL_Utf9t1", 65.6, 47.2),
        ("1IxIg5P0cei3KPOJQ9ZRWDE_Mdrz01ha2", 27.4, 27.1),
        ("1KcoUKzLmsUoGHI7B6as_Z2fXL50gzexS", 40.2, 16.2),
    ],
}
for _arch, _files in _MULTI_FILES.items():
    for (_suffix, (_sources, _target)), (_gid, _r1, _map) in zip(_MULTI.items(), _files):
        _add(
            ZooEntry(
                name=f"{_arch}_{_suffix}",
                arch=_arch,
                trained_on=_sources,
                gdrive_id=_gid,
                metrics={_target: {"rank1": _r1, "mAP": _map}},
                distance="cosine",
                transforms=_JITTER,
                notes="multi-source domain generalisation, im_osnet_ain_x1_0_softmax_256x128_amsgrad_cosine, 50 epochs",
            )
        )
