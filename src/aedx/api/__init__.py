"""The web API: FastAPI routers over the exchange core, one per resource."""
