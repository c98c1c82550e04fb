"""Local AWS emulator for commandbridge-operator tests.

moto's server (all services on one port) wrapped in a WSGI middleware that adds
failover semantics moto lacks (Aurora global switchover/failover, AppConfig
deployments, Route 53 change propagation and health status), fault injection,
a call log and a JSON control API under ``/_emulator/``.
"""

ACCOUNT_ID = "123456789012"
