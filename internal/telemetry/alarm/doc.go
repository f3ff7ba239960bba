// Package alarm owns alarms: metric threshold rules a user creates
// (`slipway alarms create`), the built-in alarms every stack has (failed
// builds, failed releases, crash loops), their evaluation every 10 s, their
// state history, and the webhook notifications of state changes.
//
// Semantics, CloudWatch-like:
//
//   - A metric alarm looks at the last For complete periods of Period
//     (each period's value is the metric aggregated over it by the metrics
//     store). It is ALARM when every period that has a datapoint breaches
//     the threshold (strictly above or below) — CloudWatch's "N of the
//     last N" with missing data treated as "missing": a gap in the range is
//     filled with the range's last datapoint. It is INSUFFICIENT_DATA when
//     no period of the range has a datapoint, and OK otherwise: one
//     non-breaching datapoint in the range brings it back to OK.
//   - Built-in alarms are event-driven: build-failed goes to ALARM when a
//     stack's build fails or times out and back to OK on its next
//     successful build; release-failed (per stage) the same with releases;
//     crash-loop (per stage) is ALARM while the stage is CrashLooping and OK
//     once it serves again. Each outcome counts once (the newest judged
//     build or release is remembered), so a failure followed at once by a
//     success still passes through ALARM. They cannot be deleted and notify
//     the server's default webhook (--alarm-webhook) plus the stack's
//     webhooks (`slipway alarms notify <stack> <url>...`).
//   - Every state change is stored in the alarm's history. A change into
//     or out of ALARM is POSTed as JSON to the alarm's webhooks, retried
//     with exponential backoff (1 s, 2 s, 4 s, 8 s: 5 attempts; any 2xx
//     answer delivers) off the evaluator's goroutine, and each delivery's
//     outcome is stored in the history too. An alarm's notifications
//     reach each URL in order, at most 10 waiting (more are dropped, and
//     that is recorded). Changes between OK and
//     INSUFFICIENT_DATA are recorded but not sent (no one is paged for a
//     quiet stage).
//
// Webhook URLs can hold credentials: they are shown, logged and stored in
// history with their user info and query redacted.
//
// The package decides and acts through small interfaces (Store, Query,
// Observer); it must not import the server, the API or Docker code.
package alarm
