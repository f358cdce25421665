"""HTTP views: parse, check with the policy, call one service, render or redirect."""
