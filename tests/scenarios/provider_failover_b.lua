-- Failover host B for tests/sh/provider_failover.sh: a healthy Agora with one recording.
return {
  agora = { customer_id = "fo-customer", customer_secret = "fo-secret-0123456789", rate_limit = 0 },
  agora_recordings = { { appid = "fo-app", resourceid = "fo-rid", sid = "fo-sid", mode = "mix",
                         status = 5 } },
}
