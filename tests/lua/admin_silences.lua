-- The admin route's handler (notify._admin, registered with rec.admin.serve when rec.notify
-- loads), called as the listener's requests call it: list, add, expire, and every refusal
-- answered with a status and a reason, never a raised error. rec.admin's own checks too.
local notify = require "rec.notify"

local function req(method, path, body)
  local status, doc = notify._admin{ id = 1, method = method, path = path, body = body }
  assert(type(status) == "number" and type(doc) == "table", "status and a document")
  assert(rec.json.encode(doc), "the document encodes")
  return status, doc
end

local function refused(want, method, path, body, pat)
  local status, doc = req(method, path, body)
  assert(status == want, ("%s %s: %d, wanted %d (%s)"):format(method, path, status, want, tostring(doc.error)))
  assert(type(doc.error) == "string" and doc.error:find(pat),
         ("%s %s: error %q does not say %q"):format(method, path, tostring(doc.error), pat))
end

-- empty list: an array, not an object
local status, doc = req("GET", "/admin/silences")
assert(status == 200 and #doc.silences == 0)
assert(rec.json.encode(doc) == '{"silences":[]}', rec.json.encode(doc))

-- bad requests: 400 with the reason; wrong methods 405; unknown routes 404
refused(400, "POST", "/admin/silences", "not json", "JSON object")
refused(400, "POST", "/admin/silences", '[1,2]', "matchers")
refused(400, "POST", "/admin/silences", '{"matchers":["channel=x"],"for":60,"coment":"x"}', "unknown field 'coment'")
refused(400, "POST", "/admin/silences", '{"matchers":"channel=x","for":60}', "list of strings")
refused(400, "POST", "/admin/silences", '{"matchers":["channel=~(x"],"for":60}', "not supported")
refused(400, "POST", "/admin/silences", '{"matchers":[],"for":60}', "at least one matcher")
refused(400, "POST", "/admin/silences", '{"matchers":["channel=x"]}', "'for' %(seconds%) or 'ends'")
refused(400, "POST", "/admin/silences", '{"matchers":["channel=x"],"for":-1}', "'for' is a number")
refused(400, "POST", "/admin/silences", '{"matchers":["channel=x"],"for":60,"author":5}', "'author' is a string")
-- times os.date cannot show are refused before anything is stored (not stored, then failed)
refused(400, "POST", "/admin/silences", '{"matchers":["channel=x"],"for":1e300}', "between 1970 and the year 10000")
refused(400, "POST", "/admin/silences", '{"matchers":["channel=x"],"ends":1e300}', "between 1970 and the year 10000")
refused(400, "POST", "/admin/silences", '{"matchers":["channel=x"],"for":60,"starts":-1e300}', "between 1970 and the year 10000")
refused(405, "PUT", "/admin/silences", nil, "use GET")
refused(405, "GET", "/admin/silences/s-1", nil, "use DELETE")
refused(404, "GET", "/admin/other", nil, "no admin route /admin/other")
refused(404, "DELETE", "/admin/silences/s-nosuch", nil, "no silence s%-nosuch")
status, doc = req("GET", "/admin/silences")
assert(#doc.silences == 0, "refused requests made no silence")

-- add (matchers as strings, and as an object), list, expire
status, doc = req("POST", "/admin/silences",
  '{"matchers":["channel=room-7","severity!=info"],"for":7200,"author":"ops","comment":"maintenance"}')
assert(status == 201 and doc.id:match("^s%-%x+$"), tostring(doc.error))
local id = doc.id
assert(doc.silence.state == "active" and doc.silence.author == "ops" and #doc.silence.matchers == 2)
assert(math.abs(doc.silence.ends_at - doc.silence.starts_at - 7200) < 1e-6)
status, doc = req("POST", "/admin/silences", '{"match":{"app":"a1"},"ends":' .. (rec.time() + 60) .. '}')
assert(status == 201, tostring(doc.error))
local id2 = doc.id
status, doc = req("GET", "/admin/silences/")   -- a trailing slash is the same route
assert(status == 200 and #doc.silences == 2)
local seen = {}
for _, s in ipairs(doc.silences) do seen[s.id] = s.state end
assert(seen[id] == "active" and seen[id2] == "active")
assert(rec.json.decode(rec.health.status()).alerts.silences_active == 2, "/status counts them")

status, doc = req("DELETE", "/admin/silences/" .. id)
assert(status == 200 and doc.expired == true and doc.id == id)
refused(409, "DELETE", "/admin/silences/" .. id, nil, "over already")
for _, s in ipairs(notify.silences()) do
  if s.id == id then assert(s.state == "expired") else assert(s.state == "active") end
end
assert(rec.json.decode(rec.health.status()).alerts.silences_active == 1)

-- rec.admin: serve takes a function; a reply to a request that does not wait is false
assert(not pcall(rec.admin.serve, "x"))
assert(rec.admin.reply(987654, 200, "{}") == false, "no such request")
assert(not pcall(rec.admin.reply, 1, 99, "{}"), "a status is 100..599")
print("ok: admin handler")
