"""The examples in the analysis modules' docstrings hold."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import analysis
import analysis.artifacts

MODULES = sorted(
    {f"analysis.{m.name}" for m in pkgutil.iter_modules(analysis.__path__)}
    | {f"analysis.artifacts.{m.name}" for m in pkgutil.iter_modules(analysis.artifacts.__path__)}
    | {"analysis.artifacts"}
)


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name):
    assert doctest.testmod(importlib.import_module(name)).failed == 0
