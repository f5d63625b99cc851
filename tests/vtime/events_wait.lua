-- A script for events_test.lua: arg[1] = "timeout": rec.events.next(600) with nothing coming;
-- "inject": a waiter on next(600), an event injected at 10 s of virtual time.
if arg[1] == "timeout" then
  local t0 = rec.now()
  local ev = rec.events.next(600)
  rec.log.info("RESULT %s after %.3f s", ev == nil and "nil" or ev.notice_id, rec.now() - t0)
else
  local w = rec.spawn(function()
    local t0 = rec.now()
    local ev = rec.events.next(600)
    rec.log.info("RESULT %s after %.3f s", ev and ev.notice_id or "nil", rec.now() - t0)
    rec.events.done(ev)
  end)
  rec.sleep(10)
  assert(rec.events.inject{ notice_id = "v-1", event_type = 11, sid = "s" } == "accepted")
  w:wait()
end
