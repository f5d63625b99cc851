-- Accounts (issue 24): a call that names an account uses that account's credential; the
-- simulator's customers and keys are accounts under --sim; an account nobody configured is a
-- typed invalid_argument, with nothing sent; a bad accounts list is a configuration error.
-- Scenario: tests/scenarios/provider_accounts.lua (customers acct-a, acct-b; key QKB).
assert(rec.features.accounts)
local AQ = { appid = "acct-app", resourceid = "acct-rid", sid = "acct-sid", mode = "mix", retries = 0 }
local QQ = { app_id = "acct-qapp", channel = "acct-ch", from_hour = 1, to_hour = 0, retries = 0 }
local function with(t, k, v)
  local c = {}
  for kk, vv in pairs(t) do c[kk] = vv end
  c[k] = v
  return c
end

-- the simulator's customers are usable accounts without a word of configuration
assert(rec.query_agora(AQ))
for _, id in ipairs({ "acct-default", "acct-a", "acct-b" }) do
  local res, err = rec.query_agora(with(AQ, "account", id))
  assert(res and res.status == 5, id .. ": " .. tostring(err))
end
assert(rec.query_qingcloud(with(QQ, "account", "QKB")))
assert(rec.agora.query(with(AQ, "account", "acct-b")))
assert(rec.qingcloud.query{ app_id = "acct-qapp", channel = "acct-ch", account = "QKB" })

-- unknown: typed, nothing sent, whichever call
local function unknown(what, fn, args)
  local res, err = fn(args)
  assert(not res and err.kind == "invalid_argument", what .. ": " .. tostring(err))
  assert(err.message:find("unknown", 1, true) and err.message:find("acct-zz", 1, true), err.message)
  assert(err.attempts == 0 or err.attempts == nil, what .. ": sent " .. tostring(err.attempts))
end
unknown("rec.query_agora", rec.query_agora, with(AQ, "account", "acct-zz"))
unknown("rec.agora.query", rec.agora.query, with(AQ, "account", "acct-zz"))
unknown("rec.query_qingcloud", rec.query_qingcloud, with(QQ, "account", "acct-zz"))
unknown("rec.qingcloud.start", rec.qingcloud.start, { app_id = "a", project_id = "p", channel = "c",
                                                     sign_key = "k", account = "acct-zz" })
local res, err = rec.query_agora(with(AQ, "account", 7))
assert(not res and err.kind == "invalid_argument" and err.message:find("'account'", 1, true), tostring(err))
res, err = rec.query_agora(with(AQ, "account", ""))
assert(not res and err.kind == "invalid_argument", tostring(err))

-- an account the script configures with a credential the simulator does not know: its own
-- credential is sent (the simulator refuses it), never the default one
assert(rec.configure{ agora = { accounts = { { customer_id = "acct-ghost", customer_secret = "ghost-secret-999", rate = 2 } } },
                      qingcloud = { accounts = { { access_key_id = "QKGHOST", secret_access_key = "qk-ghost-999" } } } })
res, err = rec.query_agora(with(AQ, "account", "acct-ghost"))
assert(not res and err.kind == "auth" and err.status == 401, tostring(err))
res, err = rec.query_qingcloud(with(QQ, "account", "QKGHOST"))
assert(not res and err.kind == "auth" and err.code == "AccessKeyNotFound", tostring(err))
-- the simulator's own stay listed beside them (their secrets are the simulator's)
assert(rec.query_agora(with(AQ, "account", "acct-a")))
-- a later configuration that no longer names an account unlists it
assert(rec.configure{ agora = { accounts = {} } })
unknown("after unlisting", rec.query_agora, with(AQ, "account", "acct-zz"))
res, err = rec.query_agora(with(AQ, "account", "acct-ghost"))
assert(not res and err.kind == "invalid_argument", "an unlisted account is unknown: " .. tostring(err))
assert(rec.query_agora(with(AQ, "account", "acct-b")))

-- configuration errors name the setting
local function rejects(cfg, phrase)
  local ok, e = pcall(rec.configure, cfg)
  assert(not ok, "accepted: " .. phrase)
  assert(e:find(phrase, 1, true), e)
end
rejects({ agora = { accounts = "x" } }, "agora.accounts must be a list of tables")
rejects({ agora = { accounts = { 5 } } }, "agora.accounts[1] must be a table")
rejects({ agora = { accounts = { { customer_id = "n" } } } }, "agora.accounts[1] needs customer_secret")
rejects({ agora = { accounts = { { customer_id = "a/b", customer_secret = "s" } } } },
        "agora.accounts[1].customer_id must be a string of 1..128 printable characters")
rejects({ agora = { accounts = { { customer_id = "n", customer_secret = "s", rate = -1 } } } },
        "agora.accounts[1].rate must be >= 0")
rejects({ agora = { accounts = { { customer_id = "n", customer_secret = "s", colour = 1 } } } },
        "unknown setting 'colour' in agora.accounts[1]")
rejects({ agora = { accounts = { { customer_id = "n", customer_secret = "s" }, { customer_id = "n", customer_secret = "t" } } } },
        "agora.accounts[2] repeats the account of accounts[1]")
rejects({ qingcloud = { accounts = { { access_key_id = "K" } } } }, "qingcloud.accounts[1] needs secret_access_key")
-- a refused list changes nothing: acct-ghost stays unlisted, acct-b listed
res, err = rec.query_agora(with(AQ, "account", "acct-ghost"))
assert(not res and err.kind == "invalid_argument", tostring(err))
assert(rec.query_agora(with(AQ, "account", "acct-b")))
print("provider_accounts ok")
