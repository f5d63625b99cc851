-- Hostile arguments from a script: numbers that no cast can hold, NUL bytes that C would
-- cut at, dot segments that URL normalisation would remove, ids that would be syntax.
local function raises(fn, pattern)
  local ok, err = pcall(fn)
  assert(not ok, "expected an error matching " .. pattern)
  assert(tostring(err):find(pattern), tostring(err))
end

-- rec.every(math.huge) used to overflow to 0 ms and fire every millisecond
raises(function() rec.every(math.huge, function() end) end, "at most 31536000")
raises(function() rec.every(0 / 0, function() end) end, "seconds must be > 0")
raises(function() rec.every(1e300, function() end) end, "at most")
local t = rec.every(31536000, function() error("must not fire") end)
t:stop()

-- max_reply: 1e300 and math.huge are refused before the cast to size_t
local r, err = rec.http{ url = rec.sim.base_url .. "/", max_reply = 1e300 }
assert(not r and err.kind == "invalid_argument" and err.message:find("max_reply"), tostring(err))
r, err = rec.http{ url = rec.sim.base_url .. "/", max_reply = math.huge }
assert(not r and err.kind == "invalid_argument", tostring(err))
r, err = rec.http{ url = rec.sim.base_url .. "/", max_reply = -1 }
assert(not r and err.kind == "invalid_argument", tostring(err))
-- a timeout or max_reply of the wrong type, or a timeout <= 0, used to be ignored (the
-- default 10 s) or read as an uninitialised number: each is refused before anything is sent
for _, bad in ipairs{ { timeout = "soon" }, { timeout = -1 }, { timeout = 0 }, { timeout = {} },
                      { max_reply = "big" }, { max_reply = {} } } do
  local key = next(bad)
  bad.url = rec.sim.base_url .. "/"
  r, err = rec.http(bad)
  assert(not r and err.kind == "invalid_argument" and err.message:find("'" .. key .. "'", 1, true),
         key .. ": " .. tostring(err))
end
r, err = rec.http{ url = rec.sim.base_url .. "/", timeout = "5" }  -- a numeric string is a number
assert(r and r.status == 404, tostring(err))
raises(function() rec.configure{ http = { max_reply = 1e300 } } end, "max_reply must be at least 1024")
raises(function() rec.configure{ http = { max_reply = 0 / 0 } } end, "max_reply")

-- Agora ids "." and ".." would be removed from the path by URL normalisation
for _, bad in ipairs{ ".", ".." } do
  for _, field in ipairs{ "appid", "resourceid", "sid" } do
    local q = { appid = "sim-agora-app", resourceid = "sim-resource-healthy", sid = "sid-healthy" }
    q[field] = bad
    local res, e = rec.query_agora(q)
    assert(not res and e.kind == "invalid_argument" and e.message:find(field, 1, true), tostring(e))
  end
end
-- "..x" and "a.b" are ordinary ids (percent-escaping keeps them one segment)
local res, e = rec.query_agora{ appid = "..x", resourceid = "a.b", sid = "s" }
assert(not res and e.kind ~= "invalid_argument", tostring(e))

-- a NUL inside a parameter used to cut the value silently
res, e = rec.query_qingcloud{ app_id = "demo-app\0other", channel = "demo-channel" }
assert(not res and e.kind == "invalid_argument" and e.message:find("NUL"), tostring(e))
res, e = rec.query_qingcloud{ app_id = "demo-app", channel = "demo\0channel" }
assert(not res and e.kind == "invalid_argument" and e.message:find("channel"), tostring(e))
res, e = rec.query_agora{ appid = "sim-agora-app\0x", resourceid = "r", sid = "s" }
assert(not res and e.kind == "invalid_argument" and e.message:find("NUL"), tostring(e))
res, e = rec.http{ url = rec.sim.base_url .. "/\0evil" }
assert(not res and e.kind == "invalid_argument" and tostring(e):find("NUL"), tostring(e))
raises(function() rec.configure{ qingcloud = { base_url = "http://a\0b" } } end, "NUL")
raises(function() rec.secret("abc\0def") end, "NUL")

-- ids built from replies: nothing that is syntax in a header, a log line or a state key
local id = rec.safe_id("1\r\nX-Injected: yes")
assert(not id:find("[%c ]") and id == "1%0D%0AX-Injected:%20yes", id)
assert(rec.safe_id(id) == id, "safe_id is idempotent")
assert(rec.safe_id("a/b#c") == "a%2Fb%23c")
assert(rec.safe_id("plain-id_1.2:x@y") == "plain-id_1.2:x@y", "safe ids stay as they are")
assert(rec.safe_id(42) == "42")
-- header mode (alert ids): only what a header value must not hold
assert(rec.safe_id("k/1#2 x\r\ny", true) == "k/1#2 x%0D%0Ay")

-- rec.excerpt redacts before it cuts: no first bytes of a secret at the end
rec.secret("EXCERPTsecret0123456789")
local ex = rec.excerpt(("x"):rep(190) .. "EXCERPTsecret0123456789", 200)
assert(not ex:find("EXCERPT", 1, true) and #ex <= 200, ex)
print("hostile_args ok")
