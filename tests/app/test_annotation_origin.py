"""Every annotation says how it came about: manual, suggestion accepted or corrected,
imported, undo; read back from the real store."""

from __future__ import annotations

from app.domain.records import ANNOTATION_ORIGINS
from app.pool.label_import import import_labels


def test_origins_read_back_from_the_store(project, tmp_path):
    ws = project
    ws.label(1, "cat", "ann", source="uncertain")
    ws.label(2, "dog", "ann", source="uncertain", predicted_class="dog", suggested=True)
    ws.label(3, "bird", "ann", source="uncertain", predicted_class="cat", suggested=True)
    ws.label(4, "cat", "ann", source="random", predicted_class="cat")  # shown, not suggested
    ws.undo_last("ann")
    name = ws.sample(5).path.rsplit("/", 1)[-1]
    csv = tmp_path / "labels.csv"
    csv.write_text(f"file,label\n{name},dog\n")
    import_labels(ws, csv, "importer")
    origins = {sid: [a.origin for a in ws.history(sid)] for sid in (1, 2, 3, 4, 5)}
    assert origins == {1: ["manual"], 2: ["suggestion accepted"], 3: ["suggestion corrected"],
                       4: ["manual", "undo"], 5: ["imported"]}
    assert ws.history(3)[0].predicted_class == "cat" and ws.history(3)[0].source == "uncertain"
    assert {o for found in origins.values() for o in found} == set(ANNOTATION_ORIGINS)
