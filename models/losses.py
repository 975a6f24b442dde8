"""Loss plumbing shared by the families' `compute_loss`.

Under tf.distribute each replica's `compute_loss` returns the mean over its share of the global
batch, and the replicas' gradients are summed: a family that overrides `compute_loss` must divide
by the number of replicas itself (Keras's compiled losses do this for built-in losses only), or
two GPUs train with twice the learning rate and report twice the loss.
"""

from __future__ import annotations

# Keras's own helper (keras 3.12): no-op on one replica and on the JAX backend, whose trainer
# averages gradients across devices itself. Imported from keras.src because keras does not
# export it; tests/unit/test_distributed_loss.py pins the behaviour.
from keras.src.losses.loss import scale_loss_for_distribution


def per_replica(total):
    """The loss a replica returns so that summed gradients equal one device's on the whole batch."""
    return scale_loss_for_distribution(total)
