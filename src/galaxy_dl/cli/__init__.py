"""Thin command-line front ends, one module per program; the work is done in ``galaxy_dl``'s core modules."""
