"""Commands that change threads: ``delete`` a thread, ``drop`` one checkpoint, ``copy``
a thread, ``fork`` one from a checkpoint.

``delete`` and ``drop`` ask before they act (``--yes`` skips the question,
for scripts), are written to the audit log by the library, and are the
remedies ``verify`` and ``history`` point to when a record is damaged and no
other copy exists. ``copy`` and ``fork`` only add a thread, never replace
one: an existing target is a conflict (exit 4).
"""

from __future__ import annotations

import click

from langgraph_persist.cli._common import (
    Conflict,
    cli,
    echo,
    echo_json,
    json_option,
    open_store,
    store_option,
)
from langgraph_persist.cli.browse import (
    ns_option,
    require_thread,
    resolve_checkpoint,
    thread_exists,
)
from langgraph_persist.saver import PersistSaver

yes_option = click.option("--yes", is_flag=True, help="Do not ask for confirmation.")


@cli.command()
@store_option
@click.argument("thread_id", metavar="THREAD")
@yes_option
@json_option
def delete(thread_id: str, yes: bool, as_json: bool) -> None:
    """Delete a thread: every checkpoint, namespace and pending write of it.

    Its content is reclaimed by the next `gc`. A run that was still writing
    the thread is refused rather than allowed to bring it back.

    \b
    Example:
        langgraph-persist delete user-42 --yes
    """
    with open_store() as saver:
        require_thread(saver, thread_id)
        if not yes:
            click.confirm(f"delete thread {thread_id!r} and all its checkpoints?", abort=True)
        saver.delete_thread(thread_id)
    if as_json:
        echo_json({"deleted": thread_id})
    else:
        echo(f"deleted thread {thread_id!r}; run `langgraph-persist gc` to reclaim space")


@cli.command()
@store_option
@click.argument("thread_id", metavar="THREAD")
@click.argument("checkpoint", metavar="CHECKPOINT")
@ns_option
@yes_option
@json_option
def drop(thread_id: str, checkpoint: str, namespace: str | None, yes: bool, as_json: bool) -> None:
    """Remove one checkpoint (and its pending writes) from a thread, e.g. a damaged one.

    CHECKPOINT is an id or a unique prefix. Its children stay; any child that
    no longer reads without it (a DeltaChannel rebuilt from its ancestors) is
    named.

    \b
    Example:
        langgraph-persist drop user-42 1f0a3c --yes
    """
    with open_store() as saver:
        ns, checkpoint_id = resolve_checkpoint(saver, thread_id, namespace, checkpoint)
        if not yes:
            click.confirm(f"drop checkpoint {checkpoint_id} of thread {thread_id!r}?", abort=True)
        broken = saver.drop_checkpoint(thread_id, checkpoint_id, checkpoint_ns=ns)
    if as_json:
        echo_json({"dropped": checkpoint_id, "children_unreadable": list(broken)})
        return
    echo(f"dropped checkpoint {checkpoint_id} of thread {thread_id!r}")
    for child in broken:
        echo(f"  child {child} no longer reads without it", err=True)


as_option = click.option(
    "--as", "new_thread", required=True, metavar="NEW", help="The new thread's id (must be free)."
)


def _require_free(saver: PersistSaver, thread_id: str) -> None:
    if thread_exists(saver, thread_id):
        raise Conflict(f"thread {thread_id!r} already exists; choose another --as")


@cli.command()
@store_option
@click.argument("thread_id", metavar="THREAD")
@as_option
@json_option
def copy(thread_id: str, new_thread: str, as_json: bool) -> None:
    """Copy a thread, with every checkpoint, namespace and pending write, to a new id.

    Cheap: records are linked, content is shared (an encrypted store
    re-seals each record for its new place). Exits 4 if NEW exists.

    \b
    Example:
        langgraph-persist copy user-42 --as user-42-experiment
    """
    with open_store() as saver:
        require_thread(saver, thread_id)
        _require_free(saver, new_thread)
        saver.copy_thread(thread_id, new_thread)
    if as_json:
        echo_json({"copied": thread_id, "as": new_thread})
    else:
        echo(f"copied thread {thread_id!r} to {new_thread!r}")


@cli.command()
@store_option
@click.argument("thread_id", metavar="THREAD")
@click.argument("checkpoint", metavar="CHECKPOINT")
@as_option
@ns_option
@json_option
def fork(
    thread_id: str, checkpoint: str, new_thread: str, namespace: str | None, as_json: bool
) -> None:
    """Start a new thread from one checkpoint of a thread (time travel without rewriting).

    The new thread holds CHECKPOINT, its pending writes (an interrupt there
    can be resumed in the fork) and its ancestors; the original thread is
    untouched. CHECKPOINT is an id, a unique prefix or `latest`. Exits 4 if
    NEW exists.

    \b
    Example:
        langgraph-persist fork user-42 1f0a3c --as user-42-retry
    """
    with open_store() as saver:
        ns, checkpoint_id = resolve_checkpoint(saver, thread_id, namespace, checkpoint)
        _require_free(saver, new_thread)
        saver.fork(thread_id, checkpoint_id, new_thread, checkpoint_ns=ns)
    if as_json:
        echo_json({"forked": thread_id, "checkpoint_id": checkpoint_id, "as": new_thread})
    else:
        echo(f"forked thread {thread_id!r} at checkpoint {checkpoint_id} as {new_thread!r}")
