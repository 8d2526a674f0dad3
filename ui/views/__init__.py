"""The Saved views page: the list of views, what can be done with one, and importing a file."""
