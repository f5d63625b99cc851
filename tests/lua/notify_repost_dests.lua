-- notify.alertmanager's re-posts cover only the open alerts queued for that destination
-- (issue 23): two outboxes on one state file, each with its own Alertmanager; an alert queued
-- through one is never re-posted to the other. A state kept without destinations (an older
-- state file) is re-posted to every destination.
local notify = require "rec.notify"
local db = require("rec.store").open()

local function am(name)
  local s = notify.alertmanager{ url = "http://127.0.0.1:9/", name = name, interval = 1 }
  s.posted = {}
  s.repost = function(self, list)
    for _, a in ipairs(list) do self.posted[a.alert_id] = (self.posted[a.alert_id] or 0) + 1 end
    return true
  end
  return s
end
local a, b = am("am-a"), am("am-b")
local out_a = notify.outbox{ to = a, db = db, start = false }
local out_b = notify.outbox{ to = b, db = db, start = false }
out_a:alert{ text = "for a", key = "only-a" }
out_b:alert{ text = "for b", key = "only-b" }
out_b:alert{ text = "for both", key = "both" }
out_a:alert{ text = "for both", key = "both" }   -- the same id through the other outbox
-- an alert state kept by an older version: no destinations
assert(db:transaction(function(d)
  d:set("rec/alert/legacy", rec.json.encode{ status = "firing", labels = { alertname = "X" },
                                              starts_at = rec.time(), text = "old", at = rec.time() })
end))

for _ = 1, 2 do    -- the first call sets when, the second (an interval later) re-posts
  out_a:repost()
  out_b:repost()
  rec.sleep(1.1)
end
local function keys(t)
  local k = {}
  for id in pairs(t) do k[#k + 1] = id end
  table.sort(k)
  return table.concat(k, ",")
end
assert(keys(a.posted) == "both,legacy,only-a", "re-posted to am-a: " .. keys(a.posted))
assert(keys(b.posted) == "both,legacy,only-b", "re-posted to am-b: " .. keys(b.posted))
local st = notify._state_of(db, "both")
assert(#st.dests == 2, "both destinations kept: " .. rec.json.encode(st.dests))
print("notify_repost_dests ok")
