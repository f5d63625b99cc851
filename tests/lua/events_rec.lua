-- rec.events (issue 22): inject goes through the durable path (accepted, then duplicate on
-- the same notice_id); next hands events out in arrival order as the contract's tables;
-- next(timeout) gives nil when nothing comes; done marks one processed; a waiting next is
-- woken by an event committed later, and a cancelled next leaves the event to the next
-- caller; bad arguments are typed errors.
local function inject(t)
  local r, err = rec.events.inject(t)
  assert(r, err)
  return r
end

assert(inject{ notice_id = "a-1", event_type = 40, notify_ms = 1000, cname = "room", uid = 42,
               sid = "sid-1", sequence = 1, sendts = 10, details = { msgName = "recorder_started" } } == "accepted")
assert(inject{ notice_id = "a-1", event_type = 40, notify_ms = 2000 } == "duplicate")
assert(inject{ notice_id = "a-2", event_type = 11, cname = "room", uid = "42", sid = "sid-1",
               details = { exitStatus = 1 } } == "accepted")

local ev = rec.events.next(5)
assert(ev.notice_id == "a-1" and ev.provider == "agora" and ev.event_type == 40, ev.notice_id)
assert(ev.notify_ms == 1000 and ev.cname == "room" and ev.uid == "42" and ev.sid == "sid-1")
assert(ev.sequence == 1 and ev.sendts == 10 and ev.details.msgName == "recorder_started")
assert(math.type(ev.received) == "integer" and ev.received > 0)
assert(rec.events.done(ev) == true)
local ev2 = rec.events.next(5)
assert(ev2.notice_id == "a-2" and ev2.details.exitStatus == 1 and ev2.sequence == nil)
assert(rec.events.done(ev2.notice_id))
assert(rec.events.next(0) == nil, "nothing left")
assert(rec.events.next(0.05) == nil, "a timeout gives nil")

-- a waiting next is woken by an event committed later
local got
local waiter = rec.spawn(function() got = rec.events.next() end)
rec.sleep(0)
inject{ notice_id = "a-3", event_type = 31 }
waiter:wait()
assert(got and got.notice_id == "a-3" and next(got.details) == nil)
rec.events.done(got)

-- a cancelled next takes nothing: the event goes to the next caller
local w2 = rec.spawn(function() return rec.events.next(30) end)
rec.sleep(0)
w2:cancel()
inject{ notice_id = "a-4", event_type = 33 }
local ev4 = rec.events.next(5)
assert(ev4 and ev4.notice_id == "a-4")
rec.events.done(ev4)

-- typed errors
assert(not pcall(rec.events.inject, { event_type = 1 }), "notice_id is required")
assert(not pcall(rec.events.inject, { notice_id = "x" }), "event_type is required")
assert(not pcall(rec.events.done, {}), "done needs a notice_id")
assert(not pcall(rec.events.next, -1), "a negative timeout")
local ok, err = pcall(rec.configure, { events_listen = "not an address" })
assert(not ok and err:find("events_listen"), err)
ok, err = pcall(rec.configure, { agora = { ncs_allow = { "1.2.3" } } })
assert(not ok and err:find("ncs_allow"), err)
print("ok")
