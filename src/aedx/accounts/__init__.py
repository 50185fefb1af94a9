"""Accounts: what the platform knows of each organisation's credentials (certificates today;
users, roles, grants and API clients to come)."""
