"""The admission webhook of the controller: the Pod mutator, its serving certificate and its HTTPS server."""
