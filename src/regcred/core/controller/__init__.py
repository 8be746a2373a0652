"""Pure rules of the in-cluster controller: selectors over cached objects, which keys an event touches."""
