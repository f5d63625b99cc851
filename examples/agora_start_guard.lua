-- agora_start_guard.lua: alert when an Agora cloud recording is not recording (status 4 or 5)
-- within 90 s of its start, following Agora's documented practice (first query ~5 s after
-- start, then every few seconds until started). A wrong sid, or one already gone, is reported
-- once, as not started, at the start timeout.
--
-- Shows: watch.agora with on_started / on_start_failed, a durable outbox, and a script that
-- ends once every recording it guards is either recording or alerted about.
--
-- Run it on the simulator (sid-healthy records; sid-stuck stays at 2 "starting" for ever, so
-- its start is reported failed once --start-timeout passes):
--   recwatch run --sim examples/agora_start_guard.lua --start-timeout 10
--   RECWATCH_WEBHOOK_URL=http://127.0.0.1:8080/hook recwatch run --sim examples/agora_start_guard.lua
-- Options: --appid sim-agora-app --recordings RID:SID:MODE,RID:SID:MODE (the recordings to guard)
--          --start-timeout 90 --first-after 5 --for 120 (give up after; 0 = never)
--          --ha-window 90 --confirm 10 (a 404 is an end only if it lasts --ha-window seconds,
--          re-queried every --confirm seconds: Agora's failover window, docs/api.md)
--          --webhook URL --kind webhook|dingtalk|wecom|feishu|slack --secret S
local watch = require "rec.watch"
local notify = require "rec.notify"
local opt = require("rec.args").parse(arg, {
  appid = os.getenv("AGORA_APP_ID") or "sim-agora-app",
  recordings = "sim-resource-healthy:sid-healthy:mix,sim-resource-stuck:sid-stuck:mix",
  start_timeout = 90, first_after = 5, start_every = 2, confirm = "10", ha_window = 90,
  ["for"] = 120,
  retry_base = 1,
  webhook = false, kind = false, secret = false,  -- flags without a default
})

local delays = {}
for d in opt.confirm:gmatch("[^,%s]+") do delays[#delays + 1] = assert(tonumber(d)) end

local out = notify.outbox{
  to = notify.from_env{ url = opt.webhook, kind = opt.kind, secret = opt.secret },
  every = 0.5, retry_base = opt.retry_base,
}

local handles, open = {}, 0
for spec in opt.recordings:gmatch("[^,%s]+") do
  local rid, sid, mode = spec:match("^([^:]+):([^:]+):?([^:]*)$")
  assert(rid, "--recordings takes RESOURCEID:SID:MODE entries, got " .. spec)
  open = open + 1
  local h
  local function done() open = open - 1 ; h:stop() end
  h = watch.agora{
    appid = opt.appid, resourceid = rid, sid = sid, mode = mode ~= "" and mode or "mix",
    first_after = opt.first_after, start_every = opt.start_every,
    start_timeout = opt.start_timeout, confirm_delays = delays, ha_window = opt.ha_window,
    on_started = function(res)
      rec.log.info("recording %s is recording (status %d %s)", sid, res.status, res.status_name)
      done()
    end,
    on_start_failed = function(res, err)
      out:alert{ text = ("Agora recording %s is not recording %gs after its start: %s"):format(
                   sid, opt.start_timeout,
                   res and ("status %d %s"):format(res.status, res.status_name)
                       or (err and tostring(err) or "no answer")),
                 sid = sid, resourceid = rid, status = res and res.status or nil,
                 reason = err and err.kind or "timeout" }
      done()
    end,
    on_error = function(err) rec.log.warn("%s: %s", sid, tostring(err)) end,
  }
  handles[#handles + 1] = h
end

local deadline = opt["for"] > 0 and rec.now() + opt["for"] or math.huge
while open > 0 and rec.now() < deadline do rec.sleep(0.2) end
for _, h in ipairs(handles) do h:stop() end
for _, h in ipairs(handles) do h:wait() end
out:flush(10)
out:stop()
