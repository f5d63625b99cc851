# provider_paging: rec.query_qingcloud pages through 150 tasks of one channel
# (tests/scenarios/provider_paging.lua): offsets and limits, total_count, the ids of every
# page, Lua integers, status_name; the hour window; then the same through a standalone sim
# with --log-requests to check that offset/limit/from_hour/to_hour went out as given.
set -eu
T=$(mktemp -d); SP=
trap 'if [ -n "$SP" ]; then kill $SP 2>/dev/null; wait $SP 2>/dev/null; fi; rm -rf "$T"' EXIT
SC="$SRC/tests/scenarios/provider_paging.lua"

cat >"$T/paging.lua" <<'LUA'
local function page(offset, limit, extra)
  local p = { app_id = "pg-app", channel = "big", offset = offset, limit = limit }
  for k, v in pairs(extra or {}) do p[k] = v end
  local res, err = rec.query_qingcloud(p)
  assert(res, tostring(err))
  assert(math.type(res.total_count) == "integer" and res.total_count == 150, res.total_count)
  return res
end
local NAMES = { [2] = "Recording", [10] = "Stopped", [52] = "PushToQingstorFailed" }
local STATUS = { 2, 10, 52 }

local function check_ids(res, first, n, what)
  assert(#res.recinfos == n, what .. ": " .. #res.recinfos .. " recinfos, want " .. n)
  for j, t in ipairs(res.recinfos) do
    local i = first + j - 1              -- 1-based task number
    assert(math.type(t.id) == "integer" and t.id == 1000 + i, what .. ": id " .. tostring(t.id))
    assert(math.type(t.status) == "integer" and t.status == STATUS[(i - 1) % 3 + 1], what)
    assert(t.status_name == NAMES[t.status], what .. ": status_name " .. tostring(t.status_name))
    assert(math.type(t.size) == "integer" and t.size == i * 1024, what .. ": size")
    assert(math.type(t.pid) == "integer" and math.type(t.is_mix) == "integer", what)
    assert(t.channel == "big" and t.app_id == "pg-app", what)
  end
end

-- every page of 40: 40, 40, 40, 30
local seen, offset = {}, 0
while true do
  local res = page(offset, 40)
  assert(math.type(res.offset) == "integer" and res.offset == offset, "offset echoed")
  assert(math.type(res.limit) == "integer" and res.limit == 40, "limit echoed")
  check_ids(res, offset + 1, math.min(40, 150 - offset), "page at " .. offset)
  for _, t in ipairs(res.recinfos) do
    assert(not seen[t.id], "id twice: " .. t.id); seen[t.id] = true
  end
  offset = offset + #res.recinfos
  if #res.recinfos < 40 then break end
end
assert(offset == 150)
-- limit 100 (the maximum), then the remaining 50
check_ids(page(0, 100), 1, 100, "limit 100")
check_ids(page(100, 100), 101, 50, "offset 100 limit 100")
-- default limit 20 when not given
local d = rec.query_qingcloud{ app_id = "pg-app", channel = "big" }
assert(d and d.limit == 20 and d.offset == 0 and #d.recinfos == 20 and d.recinfos[1].id == 1001)
-- odd offsets, the last one, and past the end (empty page, total_count still right)
check_ids(page(7, 3), 8, 3, "offset 7 limit 3")
check_ids(page(149, 1), 150, 1, "last task")
local past = page(150, 10)
assert(type(past.recinfos) == "table" and #past.recinfos == 0)
check_ids(page(1000, 100), 1, 0, "far past the end")
-- the neighbouring channel is separate
local o = rec.query_qingcloud{ app_id = "pg-app", channel = "other", limit = 100 }
assert(o and o.total_count == 5 and o.recinfos[5].id == 2005)
-- hour window: created 0.5 h, 2.5 h and 5 h ago
local function aged(f, t)
  local res, err = rec.query_qingcloud{ app_id = "pg-app", channel = "aged", from_hour = f, to_hour = t }
  assert(res, tostring(err))
  local ids = {}
  for _, r in ipairs(res.recinfos) do ids[#ids + 1] = r.id end
  return table.concat(ids, ","), res.total_count
end
assert(aged(3, 1) == "3002", aged(3, 1))
assert(aged(24, 0) == "3001,3002,3003", aged(24, 0))
assert(aged(1, 0) == "3001", aged(1, 0))
assert(aged(6, 3) == "3003", aged(6, 3))
assert(aged(2, 1) == "", aged(2, 1))
assert(aged(nil, nil) == "3001,3002,3003", "no hours: the widest window, 24 to 0")
assert(aged(nil, 1) == "3002,3003", "to_hour alone: from_hour 24")
assert(aged(3, nil) == "3001,3002", "from_hour alone: to_hour 0")
print("paging ok")
LUA

"$RECWATCH" run --sim --scenario "$SC" "$T/paging.lua"

# the parameters on the wire: paging only when given; the hour window always (24/0 default)
"$RECWATCH" sim --listen 127.0.0.1:0 --scenario "$SC" --log-requests "$T/req.log" >"$T/sim.out" 2>"$T/sim.err" &
SP=$!
for _ in $(seq 100); do grep -q RECWATCH_SIM_PORT "$T/sim.out" 2>/dev/null && break; sleep 0.05; done
eval "$(grep '^export ' "$T/sim.out")"
"$RECWATCH" run /dev/stdin <<'LUA'
assert(rec.query_qingcloud{ app_id = "pg-app", channel = "big", offset = 40, limit = 40 })
assert(rec.query_qingcloud{ app_id = "pg-app", channel = "aged", from_hour = 3, to_hour = 1 })
assert(rec.query_qingcloud{ app_id = "pg-app", channel = "big" })
LUA
sleep 0.2
python3 - "$T/req.log" <<'PY'
import json, sys
from urllib.parse import parse_qs
rows = [json.loads(l) for l in open(sys.argv[1])]
assert len(rows) == 3 and all(r["status"] == 200 and r["auth"] for r in rows), rows
q = [{k: v[0] for k, v in parse_qs(r["query"]).items()} for r in rows]
assert (q[0]["offset"], q[0]["limit"], q[0]["channel"]) == ("40", "40", "big"), q[0]
assert (q[0]["from_hour"], q[0]["to_hour"]) == ("24", "0"), q[0]
assert (q[1]["from_hour"], q[1]["to_hour"]) == ("3", "1") and "offset" not in q[1], q[1]
assert not {"offset", "limit"} & set(q[2]), q[2]
assert (q[2]["from_hour"], q[2]["to_hour"]) == ("24", "0"), q[2]
print("wire ok")
PY
echo "provider_paging ok"
