"""The public surface: ``__all__`` lists exactly what each public module exports."""

from __future__ import annotations
import __future__

import importlib
import re
from importlib.resources import files
from types import ModuleType

import pytest

import consentgate
import consentgate.log
import consentgate.providers
import consentgate.scan
import consentgate.testing

PUBLIC_MODULES = [
    consentgate,
    consentgate.log,
    consentgate.providers,
    consentgate.scan,
    consentgate.testing,
]


def isort_style(name: str) -> tuple[int, str]:
    """The order ruff's RUF022 keeps ``__all__`` in: CONSTANTS, then Classes, then the rest."""
    if len(name) > 1 and name.isupper():
        group = 0
    elif name[:1].isupper():
        group = 1
    else:
        group = 2
    return group, name


def exported(module: ModuleType) -> set[str]:
    """Public names the module binds itself: no submodules, no ``from __future__`` features."""
    return {
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and not isinstance(value, ModuleType)
        and not isinstance(value, __future__._Feature)
    }


@pytest.mark.parametrize("module", PUBLIC_MODULES, ids=lambda m: m.__name__)
def test_all_is_sorted(module: ModuleType) -> None:
    assert list(module.__all__) == sorted(module.__all__, key=isort_style)


@pytest.mark.parametrize("module", PUBLIC_MODULES, ids=lambda m: m.__name__)
def test_all_has_no_duplicates(module: ModuleType) -> None:
    assert len(set(module.__all__)) == len(module.__all__)


@pytest.mark.parametrize("module", PUBLIC_MODULES, ids=lambda m: m.__name__)
def test_all_equals_the_public_names(module: ModuleType) -> None:
    assert set(module.__all__) == exported(module)


@pytest.mark.parametrize(
    ("module_name", "name"),
    [(m.__name__, name) for m in PUBLIC_MODULES for name in m.__all__],
)
def test_every_name_in_all_is_importable(module_name: str, name: str) -> None:
    namespace: dict[str, object] = {}
    exec(f"from {module_name} import {name}", namespace)
    assert namespace[name] is getattr(importlib.import_module(module_name), name)


def test_star_import_gives_exactly_all() -> None:
    namespace: dict[str, object] = {}
    exec("from consentgate import *", namespace)
    assert set(namespace) - {"__builtins__"} == set(consentgate.__all__)


def test_version_is_a_version_string() -> None:
    assert re.fullmatch(r"\d+\.\d+\.\d+", consentgate.__version__)


def test_package_ships_py_typed() -> None:
    assert (files("consentgate") / "py.typed").is_file()
