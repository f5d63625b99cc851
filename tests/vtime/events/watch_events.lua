-- tests/vtime/events/watch_events.lua: the script behind tests/vtime/events_test.lua. Watches
-- Agora recordings (or discovers them from notifications), injects the events it is given at
-- their virtual times with rec.events.inject, alerts on failed statuses and ends, and logs a
-- "report {json}" snapshot (watch.status, /status, the sessions gauge) every --report seconds.
--   --recordings RID:SID,...   watch these (watch.agora, every --every)
--   --discover                 watch.agora{ discover = "notifications" } with --lookup SID=RID,...
--                              (a function) or --lookup-file PATH (a JSON file)
--   --events JSON              [{ "at": seconds, <event fields> }, ...]
--   --heartbeat N              every N s, an event 33 (uploading_progress) for each recording
--   --heartbeat-until S        ... until S virtual seconds (0: to the end)
local watch = require "rec.watch"
local notify = require "rec.notify"
local opt = require("rec.args").parse(arg, {
  appid = "sim-agora-app", recordings = "", discover = false, lookup = "", every = 120,
  lookup_file = false, events = "[]", heartbeat = 0, heartbeat_until = 0, report = 0, ["for"] = 600, max_every = 600,
})

local out = notify.outbox{ to = notify.from_env{}, every = 0.5, retry_base = 1 }
local function on_change(res, old)
  rec.log.info("change %s -> %d", tostring(old), res.status)
  if rec.agora.failed[res.status] then
    out:alert{ text = ("recording %s failed: status %d"):format(res.sid or "?", res.status),
               event = "failed", status = res.status }
  end
end
local function on_ended(last) out:alert{ text = "recording ended", event = "ended" } end

local handles, sids = {}, {}
local every, max_every = tonumber(opt.every), tonumber(opt.max_every)
for spec in opt.recordings:gmatch("[^,%s]+") do
  local rid, sid = spec:match("^([^:]+):([^:]+)$")
  sids[#sids + 1] = sid
  handles[#handles + 1] = watch.agora{ appid = opt.appid, resourceid = rid, sid = sid, every = every,
                                       max_every = max_every, on_change = on_change, on_ended = on_ended }
end
if opt.discover then
  local map = {}
  for sid, rid in opt.lookup:gmatch("([^,=%s]+)=([^,%s]+)") do map[sid] = rid end
  handles[#handles + 1] = watch.agora{ discover = "notifications", appid = opt.appid, every = every,
    max_every = max_every, on_change = on_change, on_ended = on_ended,
    resource_lookup = opt.lookup_file or function(cname, uid, sid) return map[sid] end }
end

for _, e in ipairs(rec.json.decode(opt.events)) do
  rec.spawn(function()
    rec.sleep(e.at)
    e.at = nil
    local ok, err = pcall(rec.events.inject, e)
    if not ok then rec.log.info("inject refused: %s", tostring(err)) end
  end)
end

local hb = tonumber(opt.heartbeat)
if hb > 0 then
  rec.spawn(function()
    local n, stop = 0, tonumber(opt.heartbeat_until)
    while rec.sleep(hb) and (stop <= 0 or rec.now() <= stop) do
      n = n + 1
      for _, sid in ipairs(sids) do
        rec.events.inject{ notice_id = sid .. "/33/" .. n, event_type = 33, cname = "c", uid = "1",
                           sid = sid, sequence = 100 + n, sendts = n, details = { progress = 0 } }
      end
    end
  end)
end

local function report()
  local sessions = {}
  for _, s in ipairs(watch.status()) do
    sessions[#sessions + 1] = { name = s.name, mode = s.mode, state = s.state, key = s.key }
  end
  local gauge = {}
  for mode, v in rec.metrics.text():gmatch('watch_sessions{mode="([%w_]+)"} (%d+)') do gauge[mode] = tonumber(v) end
  rec.log.info("report %s", rec.json.encode{ t = rec.now(), watchers = sessions, gauge = gauge,
                                            stats = watch.event_stats(),
                                            status = rec.json.decode(rec.health.status()) })
end
local rp = tonumber(opt.report)
if rp > 0 then rec.every(rp, report) end

rec.sleep(tonumber(opt["for"]))
for _, h in ipairs(handles) do h:stop() end
rec.sleep(1.5)   -- the monitor retires the stopped watchers (leaves the registry clean for the next case)
out:flush(5)
out:stop()
rec.exit(0)
