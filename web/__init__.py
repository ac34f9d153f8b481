"""The journey's front door: one stateless HTTP service (FastAPI on uvicorn) for store
platforms and customers. The signed `/v1` store API, the customer's feedback and
unsubscribe pages, health and metrics. All state lives in Temporal, so it scales by
running more copies: `python -m web`."""
