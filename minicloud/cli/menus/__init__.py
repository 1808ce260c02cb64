"""The interactive menu: the main menu and its submenus (main.py), and how an action is
asked, run and shown there (session.py)."""
