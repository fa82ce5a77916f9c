"""Safe file access: regular files only, paths confined to their folder, atomic writes, image decoding."""
