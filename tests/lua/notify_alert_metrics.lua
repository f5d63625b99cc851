-- recwatch_alert_results_total{destination,result}: the outbox counts every alert it hands to
-- a destination, sent or failed (one per failed attempt), under the sender's name; bad
-- arguments to rec.metrics.alert_result are refused.
local notify = require "rec.notify"

local function main()
  local fails = 1
  local flaky = notify.log{ name = "flaky" }
  flaky._send = function()
    if fails > 0 then
      fails = fails - 1
      return nil, setmetatable({ kind = "server", message = "down", retryable = true },
                               { __tostring = function() return "server: down" end })
    end
    return true
  end
  local out = notify.outbox{ to = { flaky, notify.log{ name = "steady" } }, every = 0.05, retry_base = 0.05 }
  out:alert{ key = "m-1", text = "one" }
  out:alert{ key = "m-2", text = "two" }
  assert(out:flush(5), "delivered")
  out:stop()
  local page = rec.metrics.text()
  local function v(dest, result)
    return tonumber(page:match('recwatch_alert_results_total{destination="' .. dest .. '",result="' .. result .. '"} (%d+)'))
  end
  assert(v("flaky", "failed") == 1, "one failed attempt: " .. tostring(v("flaky", "failed")))
  assert(v("flaky", "sent") == 2, "two sent to flaky: " .. tostring(v("flaky", "sent")))
  assert(v("steady", "sent") == 2, "two sent to steady: " .. tostring(v("steady", "sent")))
  assert(v("steady", "failed") == nil, "nothing failed at steady")
  assert(not pcall(rec.metrics.alert_result, "x", "Sent!"), "a result is a lowercase word")
  assert(not pcall(rec.metrics.alert_result, "", "sent"), "a destination is not empty")
  -- kept alert states are forgotten with the delivered rows (prune_states, hourly)
  local db = require("rec.store").open()
  assert(db:get("rec/alert/m-1"), "the state of m-1 is kept")
  assert(out:prune_states(3600) == 0, "nothing is an hour old")
  assert(out:prune_states(-1) == 2 and db:get("rec/alert/m-1") == nil, "both forgotten")
  print("notify_alert_metrics ok")
end
local ok, err = xpcall(main, debug.traceback)
if not ok then rec.log.error("%s", err) rec.exit(1) end
