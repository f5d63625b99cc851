-- The storm of issue 23: 20 QingCloud channels, each its own watcher, alerting through one
-- outbox to the simulator's webhook sink when a watcher goes silent and when it polls again.
-- Options: --rooms 20 --every 5 --stale-after 20 --for 300
--          --group (the built-in default otherwise: WatcherSilent grouped, wait 30, interval 30)
--          --no-group (group = false: one message per watcher, as before the default)
--          --wait 30 --interval 60 --send-resolved (default: as today)
--          --silence-for S --silence-match channel=room-7 (a silence made at start)
--          --report-at S (log the alert metrics and /status "alerts" then, and at the end)
local watch = require "rec.watch"
local notify = require "rec.notify"
local opt = require("rec.args").parse(arg, {
  rooms = 20, every = 5, stale_after = 20, ["for"] = 300, wait = 30, interval = 60,
  group = false, no_group = false, send_resolved = false, silence_for = 0, silence_match = "channel=room-7",
  report_at = 0,
})

-- the alert figures as /metrics and /status show them: "report <what>" log lines
local function report()
  for line in rec.metrics.text():gmatch("[^\n]+") do
    if line:match("^recwatch_alerts_total") or line:match("^recwatch_alert_results_total") or line:match("^recwatch_silences_active")
       or line:match("^recwatch_alerts_held") then
      rec.log.info("report metric %s", line)
    end
  end
  local st = rec.json.decode(rec.health.status())
  rec.log.info("report status silences_active=%d held=%d", st.alerts.silences_active, st.alerts.held)
end
if opt.report_at > 0 then rec.spawn(function() rec.sleep(opt.report_at) report() end) end

local grouping = nil   -- the built-in default
if opt.group then grouping = { by = { "alertname" }, wait = opt.wait, interval = opt.interval }
elseif opt.no_group then grouping = false end
local sink = notify.webhook_sender{ url = rec.sim.webhook_url, name = "chat", group = grouping,
  send_resolved = opt.send_resolved or nil }
local out = notify.outbox{ to = sink, every = 0.5 }

if opt.silence_for > 0 then
  notify.silence{ match = { opt.silence_match }, ["for"] = opt.silence_for,
                  author = "ops", comment = "maintenance" }
end

local channels = {}
for i = 1, opt.rooms do channels[i] = "room-" .. i end
local w = watch.qingcloud{ app_id = "demo-app", channels = channels, every = opt.every,
                           stale_after = opt.stale_after, outbox = out, name = "qc",
                           on_stale = function(info) rec.log.info("stale at %.3f", rec.now()) end }

rec.sleep(opt["for"])
w:stop()
w:wait()
out:flush(5)
out:stop()
report()
