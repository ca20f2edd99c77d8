"""Kernel and Talos facts with one home each, below everything else: errors, atomic file I/O,
arches, the .config line grammar, versions, paths, and the engine's placeholder names."""
