"""Several hubs on one PostgreSQL: shard leases, fencing, membership and the cross-hub live feed."""
