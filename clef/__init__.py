"""CLEF: clinical EEG foundation-model suite."""
__version__ = "0.1.0"
