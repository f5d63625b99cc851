-- qingcloud_failed_alert.lua: alert when a QingCloud RTC cloud recording task fails
-- (status 30, 32, 50, 51, 52 or 53), through a durable outbox.
--
-- Shows: watch.qingcloud with on_status per failure code, notify.outbox (alerts written to the
-- state database with the task's new status in one transaction, delivered with retries and
-- an alert id), and a script that ends by itself after --for seconds.
--
-- Run it on the simulator (task 39 on demo-channel fails with 52 PushToQingstorFailed at t=10 s):
--   recwatch run --sim examples/qingcloud_failed_alert.lua
--   RECWATCH_WEBHOOK_URL=http://127.0.0.1:8080/hook recwatch run --sim examples/qingcloud_failed_alert.lua
-- Options: --app-id demo-app --channels demo-channel,healthy-channel --every 1 --for 15
--          --webhook URL --kind webhook|dingtalk|wecom|feishu|slack --secret S
--          (--for 0 runs until SIGTERM; add `--state alerts.db` after `run` to survive restarts)
-- Without a webhook URL the alert goes to the simulator's webhook sink under --sim (logged as
-- "sim: webhook received: ..."), and is logged ("ALERT ...") otherwise.
local watch = require "rec.watch"
local notify = require "rec.notify"
local opt = require("rec.args").parse(arg, {
  app_id = os.getenv("QINGCLOUD_APP_ID") or "demo-app",
  channels = "demo-channel,healthy-channel",
  every = 1, ["for"] = 15, retry_base = 1,
  webhook = false, kind = false, secret = false,  -- flags without a default
})

local out = notify.outbox{
  to = notify.from_env{ url = opt.webhook, kind = opt.kind, secret = opt.secret },
  every = 0.5, retry_base = opt.retry_base,
}

local function failed(task, old)
  out:alert{ text = ("QingCloud recording task %d on %s/%s failed: %d %s (was %s)"):format(
               task.id, opt.app_id, task.channel or "?", task.status, task.status_name or "?",
               old and rec.qingcloud.status[old] or "unseen"),
             task_id = task.id, channel = task.channel, status = task.status }
end

local on_status = {}
for code in pairs(rec.qingcloud.failed) do on_status[code] = failed end   -- 30, 32, 50..53

local channels = {}
for c in opt.channels:gmatch("[^,%s]+") do channels[#channels + 1] = c end

local w = watch.qingcloud{
  app_id = opt.app_id, channels = channels, every = opt.every,
  on_change = function(task, old)
    rec.log.info("task %d on %s: %s -> %s", task.id, task.channel or "?",
                 old and rec.qingcloud.status[old] or "new", task.status_name or task.status)
  end,
  on_status = on_status,
  on_error = function(err) rec.log.warn("query failed: %s", tostring(err)) end,
}

if opt["for"] > 0 then
  rec.sleep(opt["for"])
  w:stop()
  w:wait()
  if not out:flush(10) then rec.log.warn("%d alert(s) still queued; they go out on the next run", out:pending()) end
  out:stop()
end
