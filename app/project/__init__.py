"""The project folder and the Workspace object through which every stage reads and writes it."""
