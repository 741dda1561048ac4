"""Geometry similarity kernels: pure numpy/shapely functions of columnar geometry batches."""
