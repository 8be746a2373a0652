"""Reading RegistryCredential specs and the cluster, applying and rendering their plans."""
