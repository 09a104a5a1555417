"""``python -m langgraph_persist``: the same command as the ``langgraph-persist`` script."""

from langgraph_persist.cli import main

if __name__ == "__main__":
    main()
