"""The first program a Keras user tries, ported by changing only its imports.

Run: ``python examples/seed_program.py``
"""

import numpy as np

import nnkit as keras
from nnkit.layers import Dense
from nnkit.models import Sequential

X = np.random.random((1000, 20))
y = keras.utils.to_categorical(np.random.randint(10, size=(1000, 1)), num_classes=10)
model = Sequential()
model.add(Dense(64, activation='relu', input_dim=20))
model.add(Dense(10, activation='softmax'))
model.compile(loss='categorical_crossentropy', optimizer='sgd', metrics=['accuracy'])
model.fit(X, y, epochs=10, batch_size=32)
model.compile(loss='mean_squared_error', optimizer='adam', metrics=['accuracy'])
model.fit(X, y, epochs=10, batch_size=32)
