"""The model and its files: layer specs, architectures (Keras 2 converted), compilation settings, the
scikit-learn style estimators, their archives and weights, Galaxy-ML's files. Imports data, never runs."""
