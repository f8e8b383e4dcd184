"""The curated public API: `kizuna.__all__` lists what users import, and every name exists."""

from __future__ import annotations

import kizuna


def test_exported_members_exist_and_are_documented() -> None:
    for name in kizuna.__all__:
        member = getattr(kizuna, name)
        if callable(member):
            assert member.__doc__, f"kizuna.{name} has no docstring"


def test_public_names_are_exported() -> None:
    public = {
        name
        for name, value in vars(kizuna).items()
        if not name.startswith("_") and getattr(value, "__module__", "").startswith("kizuna")
    }
    assert public <= set(kizuna.__all__), f"exported but not in __all__: {public - set(kizuna.__all__)}"
