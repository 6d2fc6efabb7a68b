"""Running the cells: each essay in a worker process of its own. `execute` owns one essay's
run (cache look-ups, timeouts, restarts from a snapshot); `worker` is the builder's handle on
the process, and `child`, run as `python -m builder.execution.child`, the process itself;
`cancel` is one build's stop (its live workers and its cancelled flag); `protocol` is the
messages they exchange over a socket; `procs` keeps a worker's family of processes and
ends all of it; `capture` captures a cell's output at the file-descriptor level; `diagrams`
draws a cell's Graphviz outputs in the worker. The worker imports this package, so its
modules stay light: the standard library and `runtime/`, never Markdown or templates.
"""
