-- fleet.lua: watch every Agora recording of the sessions set in the state store, and alert
-- once when one fails (exits abnormally, or never starts recording).
--
-- Shows: watch.fleet (one watch.agora per session "<unit>/session/<id>" of each account this
-- process holds, with that account's credential), the set edited with `recwatch sessions`,
-- alerts through a durable outbox with stable ids. The same script runs one process on a
-- SQLite file (it holds every account) or many on one PostgreSQL store (each account
-- watched by exactly one of them; docs/workflows.md, "Fleet: watch.fleet and the sessions
-- set").
--
-- Run it on the simulator (sid-abnormal exits abnormally at t=12 s):
--   recwatch sessions add --state fleet.db agora --account sim-agora-customer \
--     --appid sim-agora-app --resourceid sim-resource-abnormal --sid sid-abnormal
--   recwatch sessions add --state fleet.db agora --account sim-agora-customer \
--     --appid sim-agora-app --resourceid sim-resource-healthy --sid sid-healthy
--   recwatch run --sim --virtual-time --until 60 --state fleet.db examples/fleet.lua
-- A fleet: the same sessions added to a PostgreSQL store (--state postgresql://...), and the
-- same command run by each member with that --state (docs/operations.md, "running a fleet").
-- Options: --every 2 --first-after 1 --start-timeout 90 (production: --every 120
--          --first-after 5) --webhook URL --kind ... --secret S
local watch = require "rec.watch"
local notify = require "rec.notify"
local opt = require("rec.args").parse(arg, {
  every = 2, first_after = 1, start_timeout = 90, retry_base = 1,
  webhook = false, kind = false, secret = false,  -- flags without a default
})

-- The accounts whose sessions this process may watch: AGORA_CUSTOMER_ID/_SECRET, then _2,
-- _3, ... (what `recwatch sim` prints for its customers). A session of an account not
-- configured is polled with an unknown account: invalid_argument, logged, never sent.
-- (Under --sim and `recwatch test` every simulated customer is an account already.)
local accounts = {}
for i = 1, 1000 do
  local sfx = i == 1 and "" or ("_" .. i)
  local id, secret = os.getenv("AGORA_CUSTOMER_ID" .. sfx), os.getenv("AGORA_CUSTOMER_SECRET" .. sfx)
  if not id or not secret then break end
  accounts[#accounts + 1] = { customer_id = id, customer_secret = secret }
end
if #accounts > 0 then rec.configure{ agora = { accounts = accounts } } end

local out = notify.outbox{
  to = notify.from_env{ url = opt.webhook, kind = opt.kind, secret = opt.secret },
  every = 0.5, retry_base = opt.retry_base,
}

local fl = watch.fleet{
  provider = "agora", outbox = out,
  every = opt.every, first_after = opt.first_after, start_timeout = opt.start_timeout,
  -- inside these callbacks an alert's id comes from the recording's facts: the member that
  -- sees the failure after a takeover makes the same id, and the outbox keeps it once
  on_change = function(res, old)
    if res.status == 20 then
      out:alert{ text = ("Agora recording %s exited abnormally (status 20, was %s)")
                   :format(tostring(res.sid), tostring(old)), sid = res.sid, event = "failed" }
    end
  end,
  on_start_failed = function(last)
    out:alert{ text = ("Agora recording %s is not recording %gs after its start")
                 :format(tostring(last and last.sid), opt.start_timeout), event = "start_failed" }
  end,
  on_session_error = function(key, why)
    out:alert{ key = "fleet/invalid/" .. key, text = ("session %s cannot be watched: %s"):format(key, why) }
  end,
}

-- what this process watches, once a minute
rec.every(60, function()
  local i = fl:info()
  rec.log.info("fleet: %d account(s) held, %d session(s) watched, %d invalid", #i.units, i.watching, i.invalid)
end)
