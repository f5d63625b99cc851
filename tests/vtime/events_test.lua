-- rec.events.next on the virtual clock (issue 22): its timeout is virtual seconds, and an
-- event committed later (through the store thread: the clock does not jump meanwhile)
-- wakes the waiter at the virtual time it was injected.
local T = require "rec.test"

T.case("next(600) with nothing coming gives nil at 600 s of virtual time, not before", function(t)
  local p = t:start("events_wait.lua", { "timeout" })
  t:advance(599.9)
  t:eq(p:exited(), nil, "still waiting at 599.9 s")
  t:advance(0.2)
  t:eq(p:exited(), 0)
  local lines = t:logs("RESULT")
  t:eq(#lines, 1)
  t:ok(lines[1]:find("RESULT nil after 600.000 s", 1, true), lines[1])
end)

T.case("an event injected at 10 s wakes a waiter at 10 s", function(t)
  local p = t:start("events_wait.lua", { "inject" })
  t:advance(11)
  t:eq(p:exited(), 0)
  local lines = t:logs("RESULT")
  t:eq(#lines, 1)
  t:ok(lines[1]:find("RESULT v-1 after 10.000 s", 1, true), lines[1])
end)
