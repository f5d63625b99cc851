-- A script under test that keeps an object whose __gc never returns, then waits.
KEEP = setmetatable({}, { __gc = function() while true do end end })
rec.sleep(3600)
