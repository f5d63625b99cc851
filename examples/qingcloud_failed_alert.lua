-- qingcloud_failed_alert.lua: alert when a QingCloud RTC cloud recording task fails
-- (status 32, 50, 51, 52 or 53; or 30 RecordProcessCored with no repair outcome, 31 or 32,
-- within --repair-timeout seconds: a 30 that 31 follows is a repaired crash, no alert),
-- through a durable outbox.
--
-- Shows: watch.qingcloud with on_failed, notify.outbox (alerts written to the
-- state database with the task's new status in one transaction, delivered with retries and
-- an alert id), and a script that ends by itself after --for seconds.
--
-- Run it on the simulator (task 39 on demo-channel fails with 52 PushToQingstorFailed at t=10 s):
--   recwatch run --sim examples/qingcloud_failed_alert.lua
--   RECWATCH_WEBHOOK_URL=http://127.0.0.1:8080/hook recwatch run --sim examples/qingcloud_failed_alert.lua
-- Options: --app-id demo-app --channels demo-channel,healthy-channel --every 1 --for 15
--          --repair-timeout 600
--          --webhook URL --kind webhook|dingtalk|wecom|feishu|slack --secret S
--          (--for 0 runs until SIGTERM; add `--state alerts.db` after `run` to survive restarts)
-- Without a webhook URL the alert goes to the simulator's webhook sink under --sim (logged as
-- "sim: webhook received: ..."), and is logged ("ALERT ...") otherwise.
local watch = require "rec.watch"
local notify = require "rec.notify"
local opt = require("rec.args").parse(arg, {
  app_id = os.getenv("QINGCLOUD_APP_ID") or "demo-app",
  channels = "demo-channel,healthy-channel",
  every = 1, ["for"] = 15, retry_base = 1, repair_timeout = 600,
  webhook = false, kind = false, secret = false,  -- flags without a default
})

local out = notify.outbox{
  to = notify.from_env{ url = opt.webhook, kind = opt.kind, secret = opt.secret },
  every = 0.5, retry_base = opt.retry_base,
}

local function failed(task, old)
  local was = task.repair_timed_out and ("no repair outcome %gs after the crash"):format(opt.repair_timeout)
              or ("was " .. (old and rec.qingcloud.status[old] or "unseen"))
  out:alert{ text = ("QingCloud recording task %d on %s/%s failed: %d %s (%s)"):format(
               task.id, opt.app_id, task.channel or "?", task.status, task.status_name or "?", was),
             task_id = task.id, channel = task.channel, status = task.status }
end

local channels = {}
for c in opt.channels:gmatch("[^,%s]+") do channels[#channels + 1] = c end

local w = watch.qingcloud{
  app_id = opt.app_id, channels = channels, every = opt.every,
  on_change = function(task, old)
    rec.log.info("task %d on %s: %s -> %s", task.id, task.channel or "?",
                 old and rec.qingcloud.status[old] or "new", task.status_name or task.status)
  end,
  on_failed = failed, repair_timeout = opt.repair_timeout,
  on_error = function(err) rec.log.warn("query failed: %s", tostring(err)) end,
}

if opt["for"] > 0 then
  rec.sleep(opt["for"])
  w:stop()
  w:wait()
  if not out:flush(10) then rec.log.warn("%d alert(s) still queued; they go out on the next run", out:pending()) end
  out:stop()
end
