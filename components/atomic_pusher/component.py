"""AtomicPusher: the stock Pusher, but a version directory appears whole or not at all.

Example:

    pusher = AtomicPusher(
        model=trainer.outputs["model"],
        model_blessing=evaluator.outputs["blessing"],
        push_destination=PushDestination(filesystem=Filesystem(base_directory=base)),
    ).with_id("Pusher")

Same spec, inputs and outputs as `tfx.components.Pusher` (a `PushedModel` with the
`pushed`, `pushed_destination` and `pushed_version` properties); only the copy differs
(executor.py): TF Serving never sees a version that a killed push left half written.
"""

from tfx.components.pusher.component import Pusher
from tfx.dsl.components.base import executor_spec

from components.atomic_pusher import executor


class AtomicPusher(Pusher):
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)
