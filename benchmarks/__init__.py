"""Benchmarks: langgraph-persist against LangGraph's savers, on the same data, in one run.

Run ``python -m benchmarks.run --help``; see ``benchmarks/README.md``.
"""
