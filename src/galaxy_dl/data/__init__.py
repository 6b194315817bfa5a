"""Data in and out: tables, Matrix Market and AnnData features, row caches and streams, file formats and
atomic outputs, bounded JSON/YAML and HDF5 checks. Imports nothing of the model, runs, report or cli."""
