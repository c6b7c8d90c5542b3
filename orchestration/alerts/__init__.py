"""Delivery of the churn-risk alerts (docs/alerts.md, Delivery): ``omnicx alerts deliver``
consumes the ``alerts`` topic and sends each alert to every configured channel (signed webhooks,
e-mail), recording each outcome in a local delivery log so that nothing is sent twice."""
