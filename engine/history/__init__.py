"""Importers of community history exports: a file in, a time-ordered event stream out."""
