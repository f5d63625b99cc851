-- The script of tests/vtime/watch_sets_test.lua: the Agora sessions listed in the file arg[1]
-- are watched (every 10 s); a recording that ends raises one alert through the outbox.
local watch = require "rec.watch"
local notify = require "rec.notify"
local out = notify.outbox{ to = { notify.from_env() }, every = 1 }
watch.set{
  provider = "agora", file = arg[1], name = "sessions",
  defaults = { every = 10, first_after = 1, outbox = out,
               on_ended = function(last) out:alert{ text = "recording ended: " .. last.sid } end },
}
