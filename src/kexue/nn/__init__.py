"""Layers and networks more than one task uses."""
