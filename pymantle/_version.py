"""The package version, in a module of its own (a leaf: output.py and the model files
record it without importing the package's lazy attributes)."""
__version__ = "0.1.0"
