-- agora_ended_summary.lua: when an Agora cloud recording ends, send a summary of it (last
-- status, how long it was watched, its files); alert at once if it exits abnormally (20).
--
-- Shows: watch.agora's on_change (status 20) and on_ended (a 404 "failed to find worker"
-- that lasts Agora's failover window, 90 s from the first 404, re-queried every 10 s; a 200
-- in between means the recording lives on), a watcher that stops by itself, and the last
-- successful query result (serverResponse.fileList) used for the summary.
--
-- Run it on the simulator (sid-abnormal exits abnormally at t=12 s and is gone at 17 s;
-- sid-vanish's worker disappears at 8 s), about 110 s of story, instant on the virtual clock:
--   recwatch run --sim --virtual-time --until 200 examples/agora_ended_summary.lua
--   RECWATCH_WEBHOOK_URL=http://127.0.0.1:8080/hook recwatch run --sim examples/agora_ended_summary.lua
-- Options: --appid sim-agora-app --recordings RID:SID:MODE,... --every 2 --first-after 1
--          --ha-window 90 --confirm 10 (production: --every 120 --first-after 5; keep the
--          window at 90 s or more, docs/api.md)
--          --for 300 (give up after; 0 = never) --webhook URL --kind ... --secret S
local watch = require "rec.watch"
local notify = require "rec.notify"
local opt = require("rec.args").parse(arg, {
  appid = os.getenv("AGORA_APP_ID") or "sim-agora-app",
  recordings = "sim-resource-abnormal:sid-abnormal:mix,sim-resource-vanish:sid-vanish:individual",
  every = 2, first_after = 1, confirm = "10", ha_window = 90, ["for"] = 300, retry_base = 1,
  webhook = false, kind = false, secret = false,  -- flags without a default
})

local delays = {}
for d in opt.confirm:gmatch("[^,%s]+") do delays[#delays + 1] = assert(tonumber(d)) end

local out = notify.outbox{
  to = notify.from_env{ url = opt.webhook, kind = opt.kind, secret = opt.secret },
  every = 0.5, retry_base = opt.retry_base,
}

-- "3 files: a.m3u8 (audio_and_video), b.mp4 (audio_and_video)"
local function files_of(res)
  local sr = res and res.serverResponse or {}
  local fl = sr.fileList
  if type(fl) == "string" then return "1 playlist: " .. fl end
  if type(fl) ~= "table" then
    if sr.extensionServiceState then return "web recording (see extensionServiceState)" end
    return "no file list"
  end
  local names = {}
  for _, f in ipairs(fl) do
    names[#names + 1] = ("%s (%s)"):format(f.fileName or "?", f.trackType or "?")
  end
  return ("%d file(s): %s"):format(#names, table.concat(names, ", "))
end

local handles = {}
for spec in opt.recordings:gmatch("[^,%s]+") do
  local rid, sid, mode = spec:match("^([^:]+):([^:]+):?([^:]*)$")
  assert(rid, "--recordings takes RESOURCEID:SID:MODE entries, got " .. spec)
  local since = rec.now()
  handles[#handles + 1] = watch.agora{
    appid = opt.appid, resourceid = rid, sid = sid, mode = mode ~= "" and mode or "mix",
    every = opt.every, first_after = opt.first_after, confirm_delays = delays,
    ha_window = opt.ha_window,
    on_change = function(res, old)
      rec.log.info("%s: %s -> %d %s", sid, old and rec.agora.status[old] or "new", res.status,
                   res.status_name)
      if rec.agora.failed[res.status] then
        out:alert{ text = ("Agora recording %s exited abnormally (status %d %s)"):format(
                     sid, res.status, res.status_name), sid = sid, status = res.status,
                   event = "failed" }
      end
    end,
    on_ended = function(last)
      local st = last and ("%d %s"):format(last.status, last.status_name) or "never seen"
      out:alert{ text = ("Agora recording %s ended after ~%ds watched; last status %s; %s"):format(
                   sid, math.floor(rec.now() - since + 0.5), st, files_of(last)),
                 sid = sid, status = last and last.status or nil, event = "ended",
                 files = last and last.serverResponse and last.serverResponse.fileList or nil }
    end,
    on_error = function(err) rec.log.warn("%s: %s", sid, tostring(err)) end,
  }
end

-- every watcher stops by itself once its recording has ended
local finished = false
rec.spawn(function() for _, h in ipairs(handles) do h:wait() end finished = true end)
local deadline = opt["for"] > 0 and rec.now() + opt["for"] or math.huge
while not finished and rec.now() < deadline do rec.sleep(0.2) end
for _, h in ipairs(handles) do h:stop() end
out:flush(10)
out:stop()
