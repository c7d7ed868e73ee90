"""The training machinery: data to device tensors, batches, the loop and running logs."""
