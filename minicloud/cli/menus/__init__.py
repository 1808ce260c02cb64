"""The interactive menus, one module per menu."""
