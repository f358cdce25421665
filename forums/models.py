"""Forum categories, threads and posts arrive with the forums issue."""
