// Package lambda speaks AWS Lambda's two wire formats so that a serverless
// stage's containers can be ordinary Lambda functions (for example ones
// built with github.com/aws/aws-lambda-go):
//
//   - Server serves the Lambda Runtime API (version 2018-06-01) to many
//     function instances at once. The caller says which instance an HTTP
//     request comes from; Instance.Invoke hands that instance one event
//     and waits for its answer, with Lambda's rules: one event at a time,
//     6 MB responses at most, init errors reported once.
//   - HTTPEventV2, HTTPEventV1, WriteHTTPResponse and ScheduledEvent
//     translate between HTTP and the API Gateway (payload 2.0 and 1.0) and
//     EventBridge events a function expects. They are pure functions.
//
// The package owns the protocol only. It does not start, stop, pool or
// meter containers, choose an instance for a request, or decide timeouts:
// internal/serverless (the activator) does, and maps a caller to an
// instance key (by its container's IP) for Server. Nothing here touches
// Docker or the store.
package lambda
