"""The HTTP layer: app factory, middleware, dependencies, error mapping and thin routers."""
