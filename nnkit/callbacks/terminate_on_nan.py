"""TerminateOnNaN: stop training at the first NaN or infinite loss, keeping the last good weights."""

from __future__ import annotations

import math

from nnkit.callbacks.callback import Callback


class TerminateOnNaN(Callback):
    """Stop training as soon as a batch's loss is NaN or infinite.

    What is kept ("restore"): nothing has to be restored afterwards, because the update computed from a
    non-finite loss is never applied. While this callback is present the training loop checks each
    batch's loss before ``backward()`` and skips the update when it is not finite, so training ends with
    the weights, optimizer state and ``optimizer.iterations`` left by the last step whose loss was finite
    (in Keras that step's NaN update would already be in the weights). If an earlier step with a finite
    loss produced non-finite weights (e.g. an overflowing gradient), those are what remains; the check is
    on the loss, not on the weights. The epoch still ends as usual: validation runs and ``on_epoch_end``
    receives logs whose ``loss`` is NaN or infinite.

    The check reads the loss from the device once per batch, so it costs a host sync per step.

    Args:
        raise_error: Raise ``RuntimeError`` instead of stopping quietly.
    """

    skip_non_finite_updates = True  # read by CallbackList: the loop then skips NaN/inf updates

    def __init__(self, raise_error: bool = False) -> None:
        super().__init__()
        self.raise_error = raise_error
        self.stopped_batch: int | None = None

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.stopped_batch = None

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        loss = (logs or {}).get("loss")
        if loss is None or math.isfinite(loss):
            return
        self.stopped_batch = batch
        if self.raise_error:
            raise RuntimeError(f"NaN or Inf loss encountered at batch {batch}. Loss value: {loss}. "
                               "Terminating training immediately.")
        print(f"Batch {batch}: Invalid loss, terminating training")
        self.model.stop_training = True

    def __repr__(self) -> str:
        return f"TerminateOnNaN(raise_error={self.raise_error})"
