"""Callbacks mirroring ``keras.callbacks``.

``nnkit.callbacks.checkpointing`` reads the files ``ModelCheckpoint`` and ``BackupAndRestore`` write.
"""

from nnkit.callbacks.backup_and_restore import BackupAndRestore
from nnkit.callbacks.callback import CALLBACKS, Callback, CallbackList, get
from nnkit.callbacks.csv_logger import CSVLogger
from nnkit.callbacks.early_stopping import EarlyStopping
from nnkit.callbacks.history import History
from nnkit.callbacks.lambda_callback import LambdaCallback
from nnkit.callbacks.learning_rate_scheduler import LearningRateScheduler
from nnkit.callbacks.model_checkpoint import ModelCheckpoint
from nnkit.callbacks.monitor import MonitorCallback
from nnkit.callbacks.progbar import ProgbarLogger
from nnkit.callbacks.reduce_lr_on_plateau import ReduceLROnPlateau
from nnkit.callbacks.tensorboard import TensorBoard
from nnkit.callbacks.terminate_on_nan import TerminateOnNaN

for _name, _cls in {
    "backup_and_restore": BackupAndRestore, "csv_logger": CSVLogger, "early_stopping": EarlyStopping,
    "history": History, "lambda_callback": LambdaCallback, "learning_rate_scheduler": LearningRateScheduler,
    "model_checkpoint": ModelCheckpoint, "progbar_logger": ProgbarLogger, "reduce_lr_on_plateau": ReduceLROnPlateau,
    "tensorboard": TensorBoard, "terminate_on_nan": TerminateOnNaN,
}.items():
    CALLBACKS.add(_name, _cls, aliases=(_cls.__name__,))

__all__ = [
    "CALLBACKS",
    "BackupAndRestore",
    "CSVLogger",
    "Callback",
    "CallbackList",
    "EarlyStopping",
    "History",
    "LambdaCallback",
    "LearningRateScheduler",
    "ModelCheckpoint",
    "MonitorCallback",
    "ProgbarLogger",
    "ReduceLROnPlateau",
    "TensorBoard",
    "TerminateOnNaN",
    "get",
]
