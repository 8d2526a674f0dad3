"""What every page shares: connection, caches, state, navigation, errors, formats, sign-in, budget."""
