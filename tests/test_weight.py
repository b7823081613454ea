"""The banner's JS and CSS stay under the weight budget the README promises (gzip -9)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]


def weight_script() -> ModuleType:
    path = ROOT / "scripts" / "weight.py"
    spec = importlib.util.spec_from_file_location("consentgate_weight_script", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_banner_assets_are_under_four_kilobytes_gzipped() -> None:
    weight = weight_script()
    ours = weight.ours()
    assert weight.BUDGET == 4000
    assert 0 < ours.gzipped < weight.BUDGET, f"{ours.gzipped} bytes gzip -9"
    # Every asset the banner needs is counted: the script and the stylesheet.
    assert {Path(name).name for name in weight.OURS} == {"consentgate.js", "consentgate.css"}
