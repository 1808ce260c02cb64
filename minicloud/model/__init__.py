"""The model: what MiniCloud knows, with no I/O.

``objects`` (the dataclasses), ``kinds`` (every kind declared once), ``codec`` (objects to and
from the JSON of a row), ``shapes`` (what a row of each kind may hold), ``validation`` and
``names`` (the rules every client and driver shares), ``errors``, ``printable`` and
``json_text`` (text helpers) and ``drift`` (the pure comparison of what a cloud shows with what
MiniCloud knew).  Nothing here imports another part
of MiniCloud, and this ``__init__`` imports nothing: a front end that needs only the errors
does not pay for the dataclasses.
"""
