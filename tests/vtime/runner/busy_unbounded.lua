-- A script under test that lifts max_busy, then loops without ever waiting.
rec.configure{ max_busy = 0 }
local n = 0
while true do n = n + 1 end
