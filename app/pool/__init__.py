"""The pool of images: media import, label import, export, perceptual hashing of folders, the demo project."""
