"""Which key labels which class: chosen keys, own names, then the next free key."""

from __future__ import annotations

import pytest

from app.domain.class_keys import CLASS_KEYS, class_shortcuts
from app.domain.errors import WorkspaceError


def test_plain_names_get_keys_in_order_and_digits_keep_their_own():
    assert class_shortcuts(["cat", "dog"]) == {"1": "cat", "2": "dog"}
    digits = [str(d) for d in range(10)]
    assert class_shortcuts(digits) == {d: d for d in digits}


def test_adding_a_class_moves_no_existing_key():
    digits = [str(d) for d in range(10)]
    keys = class_shortcuts([*digits, "blurry"])
    assert {k: v for k, v in keys.items() if v != "blurry"} == {d: d for d in digits}
    assert keys["a"] == "blurry"  # the first free key after the digits
    assert class_shortcuts(["cat", "dog", "bird"])["3"] == "bird"


def test_a_chosen_key_wins_and_the_others_fill_in_around_it():
    keys = class_shortcuts(["cat", "dog", "bird"], {"bird": "1", "cat": None})
    assert keys == {"2": "cat", "3": "dog", "1": "bird"}
    assert list(keys.values()) == ["cat", "dog", "bird"]  # class order
    # A stale choice (a key no class may have, a removed class) is ignored.
    assert class_shortcuts(["cat"], {"cat": "s", "gone": "2"}) == {"1": "cat"}


def test_no_more_keys_than_there_are():
    many = [f"class{i}" for i in range(len(CLASS_KEYS) + 3)]
    assert len(class_shortcuts(many)) == len(CLASS_KEYS)


def test_the_project_keeps_styles_by_class_id(project):
    project.set_class_key("dog", "D")
    project.set_class_colour("dog", "#00AA00")
    project.rename_class("dog", "hound")
    styles = project.class_styles()
    assert styles["hound"].key == "d" and styles["hound"].colour == "#00aa00"
    with pytest.raises(WorkspaceError, match="already labels class 'hound'"):
        project.set_class_key("cat", "d")
    project.move_class("bird", 0)
    assert project.classes() == ["bird", "cat", "hound"]
    project.move_class("bird", 99)
    assert project.classes() == ["cat", "hound", "bird"]
    project.remove_class("hound")
    project.add_classes(["hound"])  # back from the archive: its old style was forgotten
    assert project.class_styles()["hound"].key is None


def test_cli_reorders_colours_and_keys_classes(tmp_path):
    import json

    from tests.conftest import run_cli

    root = tmp_path / "proj"
    run_cli("init", root, "--classes", "cat,dog,bird")
    run_cli("classes", root, "--move", "bird", "1")
    run_cli("classes", root, "--colour", "dog", "#112233")
    out = run_cli("classes", root, "--key", "cat", "c").stdout
    assert out.splitlines() == ["bird  (key 1)", "cat  (key c)", "dog  (key 2, #112233)"]
    rows = json.loads(run_cli("classes", root, "--json").stdout)
    assert rows[1] == {"name": "cat", "position": 2, "key": "c", "colour": None}
    refused = run_cli("classes", root, "--key", "dog", "z", check=False)
    assert refused.returncode == 1 and "cannot label a class" in refused.stderr
    refused = run_cli("classes", root, "--move", "dog", "first", check=False)
    assert refused.returncode == 1 and "whole number" in refused.stderr
