"""galaxy-dl: deep learning on tabular data as five composable command-line programs.

Importing the package is cheap: heavy libraries (Keras, TensorFlow, scikit-learn,
pandas, matplotlib) are imported only inside the functions that need them.
"""

__version__ = "0.1.0"
