"""Shared helpers of the exported-model extractors: optional back-end imports with an install hint."""

from __future__ import annotations

import pytest

from torchreid.inference.onnx_extractor import import_optional, missing_package_message


def test_import_optional_returns_the_module():
    import json

    assert import_optional("json", "Reading JSON") is json


def test_import_optional_missing_package_says_how_to_install():
    with pytest.raises(ImportError) as info:
        import_optional("torchreid_no_such_backend", "ThatExtractor")
    assert str(info.value) == missing_package_message("torchreid_no_such_backend", "ThatExtractor")
    assert "pip install torchreid_no_such_backend" in str(info.value) and "torchreid[export]" in str(
        info.value
    )
    assert isinstance(info.value.__cause__, ImportError)


def test_import_optional_raises_the_callers_error_type():
    from torchreid.inference.export import ExportError, _require

    with pytest.raises(ExportError, match="OpenVINO export needs the optional package 'torchreid_nope'"):
        _require("torchreid_nope", "OpenVINO export")
