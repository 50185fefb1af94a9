"""Trust: the platform's certificate authority and certificate checks (and, to come, CMS
signatures and envelopes, receipts and the tamper-evident audit log). Knows nothing of the
database."""
