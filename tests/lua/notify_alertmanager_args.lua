-- Bad arguments to notify.alertmanager and to the alert model of out:alert are errors raised
-- to the script, never a crash or a queued alert of the wrong shape.
local notify = require "rec.notify"
assert(not pcall(notify.alertmanager, { url = "http://x", labels = "team" }))
assert(not pcall(notify.alertmanager, { url = "http://x", k = 0 }))
assert(not pcall(notify.alertmanager, { url = "http://x", labels = { ["bad-name"] = "1" } }))
assert(not pcall(notify.alertmanager, { labels = {} }))
local out = notify.outbox{ to = notify.log(), start = false }
assert(not pcall(out.alert, out, { text = "x", labels = { ["a b"] = "1" } }))
assert(not pcall(out.alert, out, { text = "x", labels = 5 }))
assert(not pcall(out.alert, out, { text = "x", status = "weird" }))
assert(not pcall(out.alert, out, { text = "x", labels = { x = {} } }))
assert(out:pending() == 0, "nothing was queued")
print("notify_alertmanager_args ok")
