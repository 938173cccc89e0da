"""Alerts leave the factory here: the providers' requests (`providers`), a channel's message sent by its kind
(`dispatch`), the outbox sender (`sender`) and the rule evaluator (`evaluator`), both started in the app's
lifespan. The rules and queries themselves live in server/domain/ (alert_*.py). docs/alerts.md."""
