"""A deployment as a file (issue 28): its format (``schema.json``, a JSON Schema shipped with
the package), the typed spec a file is read into (``spec.py``), reading and checking a file
with errors that name its line and key (``parse.py``, ``schema.py``), writing one from what the
store holds (``export.py``), and comparing a spec with the store (``diff.py``: the ordered steps
of a plan).  Pure functions of the model and of text: the managers (managers/deployments.py)
read the store and make the changes through the write protocol."""
