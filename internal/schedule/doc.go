// Package schedule parses the schedule expressions of serverless stages
// (slipway.yml's schedules[].expression) and computes when they fire next.
// The syntax is Amazon EventBridge's, rate(value unit) and
// cron(minutes hours day-of-month month day-of-week year), so the same
// expression means the same thing on a Slipway host and on AWS.
//
// The package owns the grammar, its error messages and the calendar
// arithmetic. It must not read the clock, sleep, start timers or invoke
// anything: callers pass the instant to count from and decide what to do
// with the answer, which keeps every rule table-testable.
//
// All times are UTC, as EventBridge rules are. Where the EventBridge docs
// are silent this package decides, and says so next to the code:
//   - rate schedules tick from the Unix epoch (see rateAnchor), not from
//     the moment a rule is created, so ticks survive restarts;
//   - names (JAN, MON, L, W) and units are accepted in any letter case and
//     runs of white space between fields are accepted; String returns the
//     normalized form, which is what should be handed to AWS;
//   - L, LW, nW, nL and n#k must stand alone in their field (as in Quartz,
//     whose dialect EventBridge follows), and ranges must ascend;
//   - an expression that can never fire between 1970 and 2199 (for
//     example February 30th) is rejected by Parse, and Next returns the
//     zero time once a schedule has no firing left (its years have ended).
package schedule
