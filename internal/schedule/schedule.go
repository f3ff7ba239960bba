package schedule

import (
	"fmt"
	"strings"
	"time"
)

// Schedule is a parsed schedule expression.
type Schedule interface {
	// Next returns the first firing strictly after after, in UTC, or the
	// zero time when the schedule never fires again.
	Next(after time.Time) time.Time
	// String returns the normalized expression, in the form EventBridge
	// accepts.
	String() string
}

// maxExprLen is EventBridge's limit on ScheduleExpression (PutRule API).
const maxExprLen = 256

// Error reports an expression that EventBridge would reject or that can
// never fire. Reason says what is wrong and what is allowed.
type Error struct {
	Expr   string
	Reason string
}

func (e *Error) Error() string {
	return fmt.Sprintf("invalid schedule %q: %s", clip(e.Expr), e.Reason)
}

// clip keeps error messages one short line even for absurd inputs.
func clip(s string) string {
	const keep = 64
	if len(s) <= keep {
		return s
	}
	return s[:keep] + "..."
}

// example is the hint shown when the expression is not recognisable at all.
const example = `use "rate(value unit)" or "cron(minutes hours day-of-month month day-of-week year)", e.g. "rate(5 minutes)" or "cron(0 12 * * ? *)"`

// Parse parses an EventBridge schedule expression: rate(value unit) or
// cron(minutes hours day-of-month month day-of-week year). Errors are of
// type *Error.
func Parse(expr string) (Schedule, error) {
	s, err := parse(expr)
	if err != nil {
		return nil, &Error{Expr: expr, Reason: err.Error()}
	}
	return s, nil
}

func parse(expr string) (Schedule, error) {
	if len(expr) > maxExprLen {
		return nil, fmt.Errorf("longer than %d characters, the EventBridge limit", maxExprLen)
	}
	s := strings.TrimSpace(expr)
	if s == "" {
		return nil, fmt.Errorf("empty; %s", example)
	}
	body, isRate := strings.CutPrefix(s, "rate(")
	if !isRate {
		var isCron bool
		if body, isCron = strings.CutPrefix(s, "cron("); !isCron {
			return nil, fmt.Errorf("not a rate or cron expression; %s", example)
		}
	}
	body, closed := strings.CutSuffix(body, ")")
	if !closed {
		return nil, fmt.Errorf("missing closing parenthesis; %s", example)
	}
	if isRate {
		return parseRate(body)
	}
	return parseCron(body)
}
