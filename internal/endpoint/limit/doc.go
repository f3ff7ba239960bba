// Package limit is the gateway endpoint's throttling and quotas, as API
// Gateway REST APIs have them: a token bucket for the whole stage, and
// for each API key the token bucket and the quota of its usage plan.
//
// A Limiter decides; it never writes a response. WriteDecision turns a
// refusal into API Gateway's answer: 429 {"message":"Too Many Requests"}
// over a rate, 429 {"message":"Limit Exceeded"} over a quota, both with
// Retry-After.
//
// Choices, where API Gateway's documentation is silent:
//
//   - Quota periods are calendar periods in UTC. A day starts at 00:00
//     UTC (documented by AWS). A week starts on Monday 00:00 UTC (ISO
//     8601) and a month on its first day at 00:00 UTC: AWS does not
//     document either boundary.
//   - Order of checks: the key's bucket, then the key's quota, then the
//     stage bucket. A key over its own rate or quota therefore never
//     drains the stage bucket that every other caller shares, and a
//     request refused for rate does not count against a quota.
//   - A plan with a zero throttle has no per-key bucket (only the stage's
//     applies); a plan with no quota has no quota. A key whose plan is
//     unknown, or a request without a key, is under the stage bucket only:
//     refusing unknown keys is authentication's job, not this package's.
//
// Quotas must survive restarts, so counts live in a QuotaStore (the
// SQLite store in production, MemoryQuotas without one). The request
// path does not touch it, except once per key and period to load the
// stored total: admissions are counted in memory and Flush (every second
// under Run) adds them to the store. A crash loses at most the last
// unflushed second of counts, so a key may be over-admitted by that much
// after a restart; API Gateway itself calls quotas targets, not hard
// limits. A failed load or flush is retried at the next flush, and the
// quota is enforced on what is known meanwhile.
//
// It must not know HTTP routing, API key hashes or the SQL schema, and it
// must not allocate on the request path once a key has been seen.
package limit
