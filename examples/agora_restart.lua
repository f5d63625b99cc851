-- agora_restart.lua: watch Agora cloud recordings and bring a failed one back (status 20
-- confirmed, a 404 past the high-availability window, a start that never records), with
-- acquire + start under a new uid from a pool, once across crashes, and no restart storm
-- (docs/workflows.md "Bring a failed recording back").
--
-- Run it on the simulator (sid-abnormal exits abnormally at 12 s and is restarted in its
-- channel as sim-sid-1; the alert goes to the simulator's webhook sink):
--   recwatch run --sim examples/agora_restart.lua
-- Options: --appid sim-agora-app --recordings RID:SID:CNAME,... --uids 1001,1002 --every 10
--          --ha-window 90 --budget 3 --settle 5 --for 600 (0 = for ever)
--          --events ADDR (receive Agora's notifications there: an exit is seen at its event,
--          not at the next poll; the simulator sends its events to it; secret AGORA_NCS_SECRET)
--          --adopt CNAME:UID:SID@SECONDS (test hook: watch.restart.adopt called directly)
--          --adopt-event CNAME:UID:SID@SECONDS (test hook: the notification itself, event 40,
--          handed in with rec.events.inject: the events dispatcher adopts the recorder)
local watch = require "rec.watch"
local notify = require "rec.notify"
local opt = require("rec.args").parse(arg, {
  appid = os.getenv("AGORA_APP_ID") or "sim-agora-app",
  recordings = "sim-resource-abnormal:sid-abnormal:class-1",
  uids = "1001,1002", every = 10, ha_window = 90, budget = 3, settle = 5, ["for"] = 600,
  probe = 60, share = 0.5, adopt = false, adopt_event = false, webhook = false, events = false,
})

if opt.events then
  rec.configure{ agora = { ncs_secret = os.getenv("AGORA_NCS_SECRET") or "sim-ncs-secret" },
                 events_listen = opt.events }
end

local out = notify.outbox{ to = notify.from_env{ url = opt.webhook }, every = 0.5, retry_base = 1 }
local uids = {}
for u in opt.uids:gmatch("[^,%s]+") do uids[#uids + 1] = u end

local handles = {}
for spec in opt.recordings:gmatch("[^,%s]+") do
  local rid, sid, cname = spec:match("^([^:]+):([^:]+):([^:]+)$")
  assert(rid, "--recordings takes RESOURCEID:SID:CNAME entries, got " .. spec)
  handles[#handles + 1] = watch.agora{
    appid = opt.appid, resourceid = rid, sid = sid, mode = "mix", every = opt.every,
    start_every = 2, ha_window = opt.ha_window, outbox = out,
    on_ended = function(last) rec.log.info("ENDED %s (last status %s)", sid, last and last.status or "?") end,
    restart = {
      cname = cname, uids = uids, budget = opt.budget, settle = opt.settle,
      circuit = { share = opt.share, probe = opt.probe },
      -- a new file prefix per restart, so the new recorder does not overwrite the old files
      client_request = function(ctx)
        return { storageConfig = { vendor = 1, region = 0, bucket = "recordings",
                   accessKey = os.getenv("S3_KEY") or "sim-access-key",
                   secretKey = os.getenv("S3_SECRET") or "sim-secret-key",
                   fileNamePrefix = { "restart", ctx.cname, tostring(ctx.attempt) } },
                 recordingConfig = { channelType = 0, maxIdleTime = 300 } }
      end,
      on_restarted = function(r)
        rec.log.info("RESTARTED %s as %s uid %s after %.1fs", r.from_sid, r.sid, r.uid, r.latency)
        out:alert{ id = "restarted/" .. r.from_sid, text = ("recording %s of %s failed and records again as %s (uid %s)")
                   :format(r.from_sid, r.cname, r.sid, r.uid), sid = r.sid, channel = r.cname, kind = "restarted" }
      end,
      on_restart_failed = function(r, err) rec.log.warn("RESTART FAILED %s uid %s: %s", r.cname, r.uid, tostring(err)) end,
      on_gave_up = function(r) rec.log.error("GAVE UP %s: %s", r.cname, r.reason) end,
    },
  }
end

if opt.adopt_event then   -- Agora's event 40 (recorder started) naming the unseen recorder
  local cname, uid, sid, at = opt.adopt_event:match("^([^:]+):([^:]+):([^@]+)@([%d.]+)$")
  rec.spawn(function()
    rec.sleep(tonumber(at))
    rec.events.inject{ notice_id = "adopt-" .. sid, event_type = 40, notify_ms = math.floor(rec.time() * 1000),
                       cname = cname, uid = uid, sid = sid, sequence = 1, details = {} }
  end)
end

if opt.adopt then   -- what the events dispatcher calls when a notification names the sid
  local cname, uid, sid, at = opt.adopt:match("^([^:]+):([^:]+):([^@]+)@([%d.]+)$")
  rec.spawn(function()
    rec.sleep(tonumber(at))
    rec.log.info("ADOPT %s", tostring(watch.restart.adopt(cname, uid, sid)))
  end)
end

if opt["for"] > 0 then
  rec.sleep(opt["for"])
  for _, h in ipairs(handles) do h:stop() end
  out:flush(10)
  out:stop()
  rec.exit(0)
end
