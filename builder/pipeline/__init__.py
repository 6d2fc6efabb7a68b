"""The pipeline: files in, pages out. `parse` turns each essay's Markdown into prose blocks
and Python cells (on markdown-it, with `cell_rule`'s block rule for `<script>` cells and the
one configured parser in `markdown`); `modules` collects the `data-export` cells into modules
other essays import and re-chains the cell keys over them; `links` resolves links between
essays; `render` makes the pages with Jinja2 (`highlight` colours the code); `static_files`
adds styles, scripts, Pyodide, the runtime and the essays' assets; `writer` writes it all
into a temporary folder and swaps it in. Nothing here runs a cell: that is `execution`.
"""
