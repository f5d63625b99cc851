-- rec.watch: watchers that poll recordings and call the script back on what changed.
--
--   watch.qingcloud{ app_id=, channel= | channels={...}, every=30, from_hour=, to_hour=,
--                    on_change=function(task, old_status) end,
--                    on_status={ [52]=function(task, old_status) end },
--                    on_failed=function(task, old_status) end, repair_timeout=600,
--                    on_error=function(err, channel) end,
--                    on_missing=function(key, last_state) end, db=store, + common }  -> handle
--   watch.agora{ appid=, resourceid=, sid=, mode="mix", every=120, first_after=5,
--                start_every=5, start_timeout=90, ha_window=90, confirm_delays={10},
--                on_change=function(res, old_status) end, on_started=function(res) end,
--                on_start_failed=function(res, err) end, on_ended=function(last_res, err) end,
--                on_error=function(err) end, db=store, + common,
--                restart={ cname=, uids={...}, client_request=tbl|fn(ctx), budget=3, per=3600,
--                  backoff={30,120,600}, settle=5, circuit={ share=0.5, window=300, probe=60 },
--                  on_restarted=, on_restart_failed=, on_gave_up= } }                -> handle
--   watch.restart.adopt(cname, uid, sid)   watch.restart.exclude_uid(cname, uid)
--   watch.agora{ discover = "notifications", appid=, resource_lookup=fn(cname, uid, sid) | "file.json"
--                | "https://...", every=120, max_every=600, lookup_every=30, notify_stale_after=300,
--                + the callbacks above }  -> handle (stop, wait, sessions, info): a session per sid
--                seen in Agora's notifications, polled once its resource id is known
--   max_every= (watch.agora): while its notifications flow, a quiet recording's polls stretch
--                up to this ceiling (600)
--   common: name=, stale_after=, on_stale=function(info) end, on_recovered=function(info) end,
--           outbox= (a notify outbox: "watcher silent" alerts), fail_polls=3, stagger= (qingcloud),
--           auth_retry=60 (seconds between polls while the provider rejects the credentials)
--   handle:stop()   handle:wait()   handle:state(key)   handle:info()
--   watch.set{ provider="agora"|"qingcloud", file= | url=, every=60, defaults={...},
--              on_change=function(set, diff) end, on_error=function(err) end, name=,
--              headers=, timeout=, settle=0.2, max_bytes= }                     -> set
--     set:add(entry) -> key | nil, err   set:remove(key) -> bool   set:removing(key)
--     set:keys()   set:handle(key)   set:info()   set:stop()   set:wait()
--   watch.fleet{ provider="agora"|"qingcloud", look_every=0.5, rescan_every=5, db=,
--                on_session_error=function(key, why) end, + the provider watcher's options }
--     -> fleet: one watcher (account = the unit's id) per session "<unit>/session/<id>" of
--     each unit this member holds; fl:add(unit, id, session)  fl:remove(unit, id)
--     fl:sessions()  fl:handle(key)  fl:info()  fl:stop()  fl:wait()
--   watch.sessions.add(db, unit, id, session)  .remove(db, unit, id)  .list(db [, unit])
--   account= (watch.agora, watch.qingcloud): the account's credential; keys under "<unit>/",
--     commits under the unit's lease; fenced: the watcher stops (logged, never alerted)
--   watch.status() -> list of every watcher's health   watch.healthy() -> bool
--   watch.exit_policy(fn | false)
--   watch.event_stats() -> { handled, routed, old, discovered, unrouted, malformed, errors,
--                            sessions = { polled = n, notifications_only = n } }
--
-- Events (rec.watch._events): Agora's notifications (rec.events) make the watcher of their sid
-- query at once (the query decides the state); they never replace polling. docs/workflows.md,
-- "Events and polling together".
--
-- State: every task's last status lives in rec.store (the --state file, or memory), written
-- in one transaction with the alerts the callbacks queued through a notify outbox. After a
-- restart a watcher neither repeats a transition it already handled nor misses one that
-- happened while it was down (it compares what it sees with what it stored).
--
-- Supervision: no error ends a watcher's loop. A failed query, a reply of the wrong shape, a
-- store error (the state file locked by another process), an error in a callback or in this
-- code: each is logged with its kind, counted, and the loop backs off and goes on. A
-- transition whose commit fails is kept (callbacks already run, alert ids fixed) and its
-- commit retried until it succeeds; the callbacks never run twice. Only handle:stop(),
-- rec.exit or a signal end a watcher (and watch.agora once the recording has ended).
--
-- The rooms behind this face (lua/rec/watch/): _supervise (health, staleness, the monitor,
-- the exit policy, built-in alerts, one supervised poll), _state (state and commits, the
-- handle, option checks), _qingcloud and _agora (each provider's loop), _sets (watch sets
-- from a file, a URL or run-time calls), _fleet (the watch set in the store, by unit), _events (the events dispatcher and discovery). Scripts require only
-- "rec.watch"; the rest is internal.
local watch = require("rec.watch._supervise").watch   -- status, healthy, exit_policy
watch.qingcloud = require("rec.watch._qingcloud").qingcloud
watch.agora = require("rec.watch._agora").agora
watch.set = require("rec.watch._sets").set
local fleet = require "rec.watch._fleet"
watch.fleet = fleet.fleet
-- the set watch.fleet reads (what `recwatch sessions` edits): add(db, unit, id|nil, session)
-- -> key | nil, err; remove(db, unit, id) -> bool; list(db [, unit]); unit(provider, account)
watch.sessions = { add = fleet.add, remove = fleet.remove, list = fleet.list, unit = fleet.unit }
local events = require "rec.watch._events"
function watch.event_stats()
  local out = { sessions = { polled = events.counts.polled, notifications_only = events.counts.notifications_only } }
  for k, v in pairs(events.stats) do out[k] = v end
  return out
end
-- watch.agora's restart policy, for notifications (the events issue): adopt(cname, uid, sid
-- [, resourceid]) a recorder that runs unseen; exclude_uid(cname, uid) a failed-over one's uid
local restart = require "rec.watch._restart"
watch.restart = { adopt = restart.adopt, exclude_uid = restart.exclude_uid, circuit = restart.circuit }

return watch
