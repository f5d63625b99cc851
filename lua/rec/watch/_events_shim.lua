-- rec.watch._events_shim (internal, TEST-ONLY, DROP AT MERGE): an in-memory stand-in for the
-- C room src/levents.c (rec.events.next / done / inject), used only when rec.events is absent,
-- so the dispatcher (rec.watch._events) can be built and tested before the receiver lands.
-- Same API and event table as the contract; NOT durable: an event not marked done is lost
-- with the process, where the real room delivers it again after a restart.
local rec = rec or require "rec"

local M = { shim = true }
local queue, head = {}, 1     -- events not yet handed out, in arrival order
local seen = {}               -- notice_id -> true: a repeated noticeId is not delivered again
local wake_ev   -- made on first use: requiring rec.watch has no side effect (recwatch check)
local function wake()
  if not wake_ev then wake_ev = rec.event() end
  return wake_ev
end

-- rec.events.inject(tbl): an event as the receiver would commit it (same table shape).
function M.inject(t)
  if type(t) ~= "table" then error("rec.events.inject takes a table", 2) end
  if type(t.notice_id) ~= "string" or t.notice_id == "" then
    error("rec.events.inject: notice_id must be a non-empty string", 2)
  end
  if seen[t.notice_id] then return false end   -- a duplicate: answered, not processed again
  seen[t.notice_id] = true
  local ev = {}
  for k, v in pairs(t) do ev[k] = v end
  ev.provider = ev.provider or "agora"
  ev.received = ev.received or rec.time()
  if type(ev.details) ~= "table" then ev.details = {} end
  queue[#queue + 1] = ev
  wake():set()
  return true
end

-- rec.events.next([timeout]) -> the next unprocessed event, or nil (+ error) on timeout or
-- cancellation.
function M.next(timeout)
  while true do
    local ev = queue[head]
    if ev then
      queue[head] = nil
      head = head + 1
      return ev
    end
    queue, head = {}, 1
    wake():clear()
    local ok, err = wake():wait(timeout)
    if not ok then return nil, err end
  end
end

-- rec.events.done(ev): marks it processed (in memory, nothing to do).
function M.done(ev)
  if type(ev) ~= "table" then error("rec.events.done takes an event", 2) end
  return true
end

return M
