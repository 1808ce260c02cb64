"""User actions, each declared once (base.py) for the menu and the one-shot commands; grouped
by object, listed in registry.py (imported only when an action is needed, so that the menu is
drawn first)."""
