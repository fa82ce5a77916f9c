"""The annotator's session: labeling queues, label/undo/skip, keyboard shortcuts."""
