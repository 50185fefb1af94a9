"""The exchange pipeline: intake, the submission state machine, routing, the case index,
deliveries, feedback and the audit log. Knows nothing of HTTP: the API maps its domain errors."""
