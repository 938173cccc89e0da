"""Domain logic: work orders, reports, quality, traceability, sign-in, audit; ingestion: counting."""
