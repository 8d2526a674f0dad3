"""The Evaluate models page: its data, its run and its results."""
