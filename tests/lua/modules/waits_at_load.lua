-- A module that waits at its top level: require cannot be yielded across (engine_yield_limits).
rec.sleep(0.01)
return {}
