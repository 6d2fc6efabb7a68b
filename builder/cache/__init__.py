"""The cache under `.essays-cache/`, which lets a rebuild start at the first changed cell and
still publish what a clean build would. `keys` computes every key from its inputs, once;
`entries` is the `Cache`: each cell's outputs under its key, and pruning; `store` writes sealed, compressed
files and content-addressed blobs; `snapshot` saves and restores the namespace after a cell,
with `interpreter`'s state beyond it (random generators, print options, `sys.path`, ...);
`places` keeps positions relative to the cells, so cached tracebacks follow moved cells;
`depends` records what a cell read beyond its key and checks it before reuse; `verify` runs
every essay again without the cache for `essays build --verify`. Parts of it run inside the
worker, so its modules stay light too.
"""
