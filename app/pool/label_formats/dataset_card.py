"""Class names from a Hugging Face dataset card (``README.md``), for integer labels.

A ``metadata.jsonl`` may give ``label`` as a class index; the names are in
the card's YAML header (``dataset_info.features``, the ``label`` feature's
``class_label.names``).  Reading YAML needs PyYAML (a dependency of
``datasets``); without it, or without a card, there are no names and the
indices stay as they are (and are reported as unknown classes).
"""

from __future__ import annotations

from pathlib import Path

_MAX_CARD_BYTES = 1 << 20


def _front_matter(text: str) -> str | None:
    if not text.startswith("---"):
        return None
    end = text.find("\n---", 3)
    return text[3:end] if end >= 0 else None


def card_class_names(folder: Path) -> list[str] | None:
    """The ``label`` class names of the card in ``folder`` or its parent, in index order."""
    try:
        import yaml
    except ImportError:
        return None
    for candidate in (folder / "README.md", folder.parent / "README.md"):
        try:
            if not candidate.is_file() or candidate.stat().st_size > _MAX_CARD_BYTES:
                continue
            header = _front_matter(candidate.read_text(encoding="utf-8"))
            data = yaml.safe_load(header) if header else None
            infos = data.get("dataset_info") if isinstance(data, dict) else None
            for info in infos if isinstance(infos, list) else [infos]:
                for feature in (info or {}).get("features") or []:
                    if feature.get("name") != "label":
                        continue
                    names = feature["dtype"]["class_label"]["names"]
                    return [str(names[k]) for k in sorted(names, key=int)] \
                        if isinstance(names, dict) else [str(n) for n in names]
        except (OSError, UnicodeDecodeError, yaml.YAMLError, KeyError, TypeError,
                ValueError, AttributeError):
            continue
    return None
