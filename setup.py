# A shim for tools that look for setup.py: all the metadata is in pyproject.toml.
from setuptools import setup

setup()
