"""Service work orders (工单): from alerts and by hand, with SLA timers and follow-up."""
