"""The runtime: runs cells and formats their outputs, in CPython and in Pyodide alike."""

__version__ = "0.1.0"
