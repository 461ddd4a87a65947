"""CareHub: the monitoring hub from device messages to alerts, work orders and ledgers."""
