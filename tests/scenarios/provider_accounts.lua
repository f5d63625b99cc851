-- Accounts scenario for tests/lua/provider_accounts.lua, tests/lua/provider_ratelimit_accounts.lua
-- and tests/sh/provider_accounts.sh: three Agora customers, each limited to 10 requests per
-- second on its own (the sim's strict window per customer), and two QingCloud keys.
return {
  agora = {
    customer_id = "acct-default", customer_secret = "acct-default-secret-000", rate_limit = 10,
    customers = {
      { customer_id = "acct-a", customer_secret = "acct-a-secret-111", rate_limit = 10 },
      { customer_id = "acct-b", customer_secret = "acct-b-secret-222", rate_limit = 10 },
    },
  },
  qingcloud = {
    access_key_id = "QKDEFAULT", secret_access_key = "qk-default-secret-000",
    keys = { { access_key_id = "QKB", secret_access_key = "qk-b-secret-222" } },
  },
  agora_recordings = { { appid = "acct-app", resourceid = "acct-rid", sid = "acct-sid", mode = "mix",
                         status = 5 } },
  qingcloud_tasks = { { app_id = "acct-qapp", channel = "acct-ch", id = 7, status = 2 } },
}
