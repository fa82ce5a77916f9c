"""What Labelloop speaks of: samples, annotations, classes, model versions, and the rules on their names.

The lowest layer: plain records and pure rules, no files, no SQL, no torch.
"""
