"""The grid search from the product's seed material, ported by changing only its imports.

Run: ``python examples/grid_search.py`` (81 fits: 27 candidates x 3 folds, then the refit).
"""

import time

import numpy as np
from sklearn.model_selection import GridSearchCV

import nnkit as keras
from nnkit.layers import Dense
from nnkit.models import Sequential
from nnkit.regularizers import Regularizer  # was: from keras.regularizers import Regularizer
from nnkit.wrappers.scikit_learn import KerasClassifier  # was: from keras.wrappers.scikit_learn import ...

X = np.random.random((1000, 20))
y = keras.utils.to_categorical(np.random.randint(10, size=(1000, 1)), num_classes=10)


def create_model(learning_rate=0.01, batch_size=32, epochs=10, l2=0.0):
    model = Sequential()
    model.add(Dense(64, activation='relu', input_dim=20, kernel_regularizer=Regularizer('l2', l2)))
    model.add(Dense(10, activation='softmax'))
    model.compile(loss='categorical_crossentropy', optimizer=keras.optimizers.Adam(lr=learning_rate),
                  metrics=['accuracy'])
    return model


if __name__ == "__main__":
    model = KerasClassifier(build_fn=create_model, verbose=0)
    param_grid = {'batch_size': [16, 32, 64], 'epochs': [5, 10, 15], 'l2': [0.0, 0.01, 0.1]}
    grid = GridSearchCV(estimator=model, param_grid=param_grid, cv=3)
    start = time.perf_counter()
    grid_result = grid.fit(X, y)
    elapsed = time.perf_counter() - start
    print(f"Best: {grid_result.best_score_:.3f} using {grid_result.best_params_}")
    for mean, std, params in zip(grid_result.cv_results_['mean_test_score'], grid_result.cv_results_['std_test_score'],
                                 grid_result.cv_results_['params']):
        print(f"{mean:.3f} ({std:.3f}) with: {params}")
    print(f"{len(grid_result.cv_results_['params']) * grid.n_splits_} fits and the refit in {elapsed:.1f} s")
