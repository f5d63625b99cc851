-- agora_events.lua: Agora's notifications (NCS) drive the watchers. Sessions are discovered
-- from their events (no sid written in the script), an abnormal exit is alerted within a
-- second of its event instead of at the next poll, and polling stays the source of truth.
--
-- Shows: rec.configure{ events_listen = } (the receiver: POST /agora/ncs, signatures checked,
-- each event durable before its 200), watch.agora{ discover = "notifications" } with a
-- resource lookup (a notification names cname, uid and sid, but a query also needs the
-- resource id: the application that started the recording knows it), on_change for status
-- 20, and on_ended.
--
-- On the simulator (it signs and POSTs the events of its recordings to the receiver:
-- sid-abnormal exits abnormally at t=12 s; sid-vanish's worker disappears at 8 s):
--   recwatch run --sim --virtual-time --until 300 examples/agora_events.lua
-- For real: put the receiver behind a TLS proxy (docs/operations.md, "Exposing the NCS
-- receiver"), AGORA_NCS_SECRET in the environment, and a lookup of your own:
--   recwatch run --events-listen 127.0.0.1:9465 examples/agora_events.lua --resources-file rids.json
-- Options: --appid --every 120 --listen 127.0.0.1:0 --resources SID=RID,... or
--          --resources-file FILE (a JSON object sid -> resource id, read at each lookup)
--          --for 0 (stop after; 0 = never) --webhook URL --kind ... --secret S
local watch = require "rec.watch"
local notify = require "rec.notify"
local opt = require("rec.args").parse(arg, {
  appid = os.getenv("AGORA_APP_ID") or "sim-agora-app", every = 120, listen = "127.0.0.1:0",
  resources = "sid-abnormal=sim-resource-abnormal,sid-vanish=sim-resource-vanish",
  ["for"] = 0, resources_file = false, webhook = false, kind = false, secret = false,
})

rec.configure{ agora = { ncs_secret = os.getenv("AGORA_NCS_SECRET") or "sim-ncs-secret" },
               events_listen = opt.listen }

local map = {}
for sid, rid in opt.resources:gmatch("([^=,%s]+)=([^,%s]+)") do map[sid] = rid end

local out = notify.outbox{
  to = notify.from_env{ url = opt.webhook, kind = opt.kind, secret = opt.secret }, every = 0.5,
}

local h = watch.agora{
  discover = "notifications", appid = opt.appid, every = opt.every,
  -- a file path is read as JSON {sid: resourceid}; a function may ask your own service
  resource_lookup = opt.resources_file or function(cname, uid, sid) return map[sid] end,
  on_change = function(res, old)
    if rec.agora.failed[res.status] then
      out:alert{ text = ("Agora recording %s exited abnormally (status %d %s)"):format(
                   res.sid or "?", res.status, res.status_name), sid = res.sid, event = "failed" }
    end
  end,
  on_ended = function(last)
    out:alert{ text = ("Agora recording %s ended (last status %s)"):format(
                 last and last.sid or "?", last and last.status_name or "never seen"),
               sid = last and last.sid or nil, event = "ended" }
  end,
}
if opt["for"] > 0 then
  rec.sleep(opt["for"])
  h:stop()
end
h:wait()
out:flush(10)
out:stop()
