-- member.lua: one member of the fleet stories (tests/sh/fleet_*.sh, bench/fleet_db.sh). Run as
--   RECWATCH_MEMBER=m1 recwatch run --state postgresql://... --listen 127.0.0.1:0 member.lua
--     --accounts 30 --every 2 --webhook http://127.0.0.1:PORT/hook [--probe]
-- It configures Agora customers c01..cNN (secret "secret-cNN", tests/fleet/scenario.lua) as
-- accounts, watches the store's watch set with watch.fleet, and alerts through the outbox on
-- a recording's start, its failure (status 20) and its end. The webhook URL gets "/<member>"
-- appended, so the receiver sees which member sent a delivery.
-- --started no: no alert when a recording is first seen recording (bench/fleet_db.sh: the
-- steady state, not a backlog of 10,000 "started" alerts).
-- --probe: a task writes "<unit>/probe/<member>/<n>" under {unit = u} every 50 ms for every
-- unit this member has ever held (also after it lost it: those writes must be refused), and
-- logs each outcome as "probe unit=<u> n=<n> ok|fenced|refused".
local watch = require "rec.watch"
local notify = require "rec.notify"
local store = require "rec.store"
local opt = require("rec.args").parse(arg, {
  accounts = 30, every = 2, webhook = false, probe = false, timeout = 2, retry_base = 0.2,
  retry_max = 1, first_after = 0.05, ha_window = 1, rate = 10, look_every = 0.1, started = "yes",
  outbox_every = 0.2,
})
local me = os.getenv("RECWATCH_MEMBER") or "?"

local accounts = {}
for a = 1, tonumber(opt.accounts) do
  accounts[a] = { customer_id = ("c%02d"):format(a), customer_secret = ("secret-c%02d"):format(a),
                  rate = tonumber(opt.rate) }
end
rec.configure{ agora = { accounts = accounts } }

local db = store.open()
local to = notify.webhook_sender{ name = "hook", timeout = tonumber(opt.timeout),
  url = (opt.webhook or (rec.sim and rec.sim.webhook_url) or "http://127.0.0.1:9/none") .. "/" .. me }
local out = notify.outbox{ to = to, db = db, every = tonumber(opt.outbox_every), retry_base = tonumber(opt.retry_base),
                           retry_max = tonumber(opt.retry_max) }

local function alert(res, event, text)
  out:alert{ text = ("%s %s: %s"):format(res.sid or "?", event, text), sid = res.sid,
             resourceid = res.resourceId, event = event, raised_by = me }
end

watch.fleet{
  provider = "agora", db = db, look_every = tonumber(opt.look_every),
  every = tonumber(opt.every), first_after = tonumber(opt.first_after),
  ha_window = tonumber(opt.ha_window), confirm_delays = { 0.3 },
  on_started = opt.started ~= "no" and function(res) alert(res, "started", "recording") end or nil,
  on_change = function(res, old)
    if rec.agora.failed[res.status] then alert(res, "failed", ("status %s -> %s"):format(old, res.status)) end
  end,
  on_ended = function(res) alert(res, "ended", "ended") end,
}

if opt.probe then
  local held, n = {}, 0
  rec.every(0.05, function()
    for _, u in ipairs(db:units()) do held[u] = true end
    for u in pairs(held) do
      n = n + 1
      local ok, err = db:transaction(function()
        db:set(("%s/probe/%s/%d"):format(u, me, n), tostring(rec.time()))
      end, { unit = u })
      local what = ok and "ok" or (type(err) == "table" and err.kind == "fenced" and "fenced" or "refused")
      rec.log.info("probe unit=%s n=%d %s", u, n, what)
    end
  end)
end

rec.log.info("member %s ready", me)
