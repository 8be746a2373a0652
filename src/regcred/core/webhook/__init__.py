"""Pure rules of the admission webhook (no I/O): which Pods get which pull Secret, and the AdmissionReview format."""
