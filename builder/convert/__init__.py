"""`essays convert`: Jupyter notebooks to essays. `notebook` reads and checks a notebook with
nbformat and writes the essay beside it only once it parses back with the same cells;
`notebook_cells` writes each kind of notebook cell as essay text that keeps its meaning.
Nothing in the build imports it.
"""
