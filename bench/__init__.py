"""`make bench`: the connector's speed and economy, measured on this machine.

Each module measures one figure and returns :class:`bench.stats.Figure` rows;
:mod:`bench.__main__` runs them all and writes ``docs/benchmarks.md``.
"""
