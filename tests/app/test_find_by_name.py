"""Go to by file name: one query, literal names, ambiguity reported, not guessed."""

from __future__ import annotations

import pytest

from app.labeling.session import find_by_id_or_name
from app.pool.importer import import_images
from app.project.workspace import Workspace, WorkspaceError
from tests.conftest import write_noise_images


@pytest.fixture
def named(tmp_path):
    images = tmp_path / "images"
    for folder, prefix, seed in (("a", "x", 0), ("b", "x", 1), ("c", "50%_off", 2)):
        write_noise_images(images / folder, 1, seed=seed, prefix=prefix)
    with Workspace.init(tmp_path / "proj", ["p", "q"]) as workspace:
        import_images(workspace, [images], workers=1)
        yield workspace


def test_a_unique_file_name_finds_its_sample_literally(named):
    found = find_by_id_or_name(named, "50%_off_0000.png")
    assert found.path.endswith("/c/50%_off_0000.png")
    with pytest.raises(WorkspaceError, match="no sample"):
        find_by_id_or_name(named, "50%_off_000.png")  # % and _ are not wildcards
    with pytest.raises(WorkspaceError, match="no sample"):
        find_by_id_or_name(named, "off_0000.png")  # a suffix of a name is not the name


def test_a_name_in_several_folders_lists_them(named):
    with pytest.raises(WorkspaceError, match=r"2 samples are named 'x_0000.png'.*a/x_0000.png"):
        find_by_id_or_name(named, "x_0000.png")
