-- Under --sim, the simulator's webhook sink answers like a chat-ops robot, and
-- notify.from_env sends there when no webhook URL is configured.
local notify = require "rec.notify"
assert(rec.sim.webhook_url == rec.sim.base_url .. "/_sim/webhook")
local r = assert(rec.http{ method = "POST", url = rec.sim.webhook_url, json = { text = "hi" } })
assert(r.status == 200 and r.json.errcode == 0, r.body)
local g = assert(rec.http{ url = rec.sim.webhook_url })
assert(g.status == 404, "only POST is a delivery")
assert(notify.webhook(rec.sim.webhook_url, { text = "direct" }))
local s = notify.from_env{}
assert(s.url == rec.sim.webhook_url, "from_env falls back to the sink under --sim")
assert(s:send{ text = "through a sender", alert_id = "t-1" })
print("notify_sim_sink ok")
