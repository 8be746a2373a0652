"""`regcred why`: explain one object's image pulls (composes core.audit and the Pod's Events)."""
