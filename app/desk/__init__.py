"""Each role's starting page: a handler's own matters, a leader's decisions."""
