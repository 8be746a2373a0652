"""The RegistryCredential document: schema, validation and the plan of every level."""
