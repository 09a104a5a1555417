"""``history --tree``: a thread's checkpoints drawn by their parent links, forks as branches.

A thread forks when a graph is resumed from an older checkpoint (time
travel, ``update_state`` on a past config): two checkpoints then share a
parent. A flat list hides that; the tree shows it the way ``git log
--graph`` does, without nesting a long history one level per checkpoint:

* checkpoints are listed oldest first, one line each, along a line of work;
* at a fork, the branch that leads to the newest checkpoint continues the
  line, and every other branch is drawn indented under the fork point
  (``branch 1/3``: the first of three runs that continued from it);
* a checkpoint whose parent is not listed (the parent was pruned or
  dropped, or the checkpoint is damaged and its parent unknown) starts a
  line of its own.

Only parent ids are used, never the store's layout.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from langgraph_persist.cli._render import printable

if TYPE_CHECKING:  # rich is imported when a tree is drawn, not by every command
    from rich.tree import Tree

Row = Mapping[str, Any]


def _newest_below(rows: Sequence[Row], children: Mapping[str, list[str]]) -> dict[str, str]:
    """For each checkpoint, the newest id in its subtree (ids sort by time), iteratively."""
    newest: dict[str, str] = {}
    for row in sorted(rows, key=lambda r: r["checkpoint_id"], reverse=True):
        cid = row["checkpoint_id"]
        newest[cid] = max([cid, *(newest.get(c, c) for c in children.get(cid, ()))])
    return newest


def fork_tree(title: str, rows: Sequence[Row], label: Callable[[Row], str]) -> Tree:
    """A rich ``Tree`` of ``rows`` (dicts with ``checkpoint_id``, ``checkpoint_ns``,
    ``parent_id``), one branch per namespace when there are several."""
    from rich.text import Text
    from rich.tree import Tree

    tree = Tree(Text(printable(title)))
    namespaces = sorted({r["checkpoint_ns"] for r in rows})
    for ns in namespaces:
        in_ns = [r for r in rows if r["checkpoint_ns"] == ns]
        node = tree if len(namespaces) == 1 else tree.add(Text(printable(ns or "(root)")))
        _draw_namespace(node, in_ns, label)
    return tree


def _draw_namespace(node: Tree, rows: Sequence[Row], label: Callable[[Row], str]) -> None:
    from rich.text import Text

    by_id = {r["checkpoint_id"]: r for r in rows}
    children: dict[str, list[str]] = {}
    starts: list[str] = []
    for cid in sorted(by_id):
        parent = by_id[cid].get("parent_id")
        if isinstance(parent, str) and parent in by_id:
            children.setdefault(parent, []).append(cid)
        else:
            starts.append(cid)
    newest = _newest_below(rows, children)
    # lines of work still to draw: (tree node to add to, first checkpoint of the line)
    pending: list[tuple[Tree, str]] = [(node, cid) for cid in reversed(starts)]
    while pending:
        parent_node, cid = pending.pop()
        while True:
            text = Text(printable(label(by_id[cid])), no_wrap=True, overflow="ellipsis")
            item = parent_node.add(text)
            kids = children.get(cid, [])
            if not kids:
                break
            main = max(kids, key=lambda k: newest[k])
            side = [k for k in kids if k != main]
            # each side branch under the fork point, oldest first, drawn after the main line
            branches = [
                (item.add(Text(f"branch {i}/{len(kids)}")), k)
                for i, k in enumerate(sorted(side), 1)
            ]
            pending.extend(reversed(branches))
            cid = main
