// Command fn is a Lambda function built with aws-lambda-go for the tests of
// package lambda. The event's fields choose what it does; FN_MODE chooses
// how it starts:
//
//	FN_MODE=init-error  post /runtime/init/error and exit, as a runtime does
//	                    when its init fails (aws-lambda-go never does)
//	FN_MODE=no-next     never ask for an event
//	otherwise           lambda.Start
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

// event is the union of the test events: an API Gateway 2.0 event has a
// version, the others a mode.
type event struct {
	Version string `json:"version"`
	Mode    string `json:"mode"`    // "error", "big", "sleep"; else describe the invocation
	Size    int    `json:"size"`    // big: response string length
	SleepMS int    `json:"sleepMs"` // sleep: how long
}

// TeapotError names the errorType the runtime reports.
type TeapotError struct{}

func (*TeapotError) Error() string { return "short and stout" }

func handle(ctx context.Context, raw json.RawMessage) (any, error) {
	var ev event
	if err := json.Unmarshal(raw, &ev); err != nil {
		return nil, err
	}
	switch {
	case ev.Version == "2.0":
		return echoHTTP(raw)
	case ev.Mode == "error":
		return nil, &TeapotError{}
	case ev.Mode == "big":
		return strings.Repeat("x", ev.Size), nil
	case ev.Mode == "sleep":
		select {
		case <-time.After(time.Duration(ev.SleepMS) * time.Millisecond):
			return "slept", nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	lc, _ := lambdacontext.FromContext(ctx)
	deadline, _ := ctx.Deadline()
	return map[string]any{
		"requestId":    lc.AwsRequestID,
		"functionArn":  lc.InvokedFunctionArn,
		"functionName": lambdacontext.FunctionName,
		"memoryMB":     lambdacontext.MemoryLimitInMB,
		"deadlineMs":   deadline.UnixMilli(),
		"traceId":      ctx.Value("x-amzn-trace-id"),
	}, nil
}

// echoHTTP answers an HTTP event with what it saw, a header and a cookie.
func echoHTTP(raw json.RawMessage) (events.APIGatewayV2HTTPResponse, error) {
	var req events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(raw, &req); err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	echo, _ := json.Marshal(map[string]any{
		"method":  req.RequestContext.HTTP.Method,
		"path":    req.RawPath,
		"query":   req.QueryStringParameters,
		"body":    req.Body,
		"cookies": req.Cookies,
	})
	return events.APIGatewayV2HTTPResponse{
		StatusCode: http.StatusCreated,
		Headers:    map[string]string{"Content-Type": "application/json", "X-Echo": "yes"},
		Cookies:    []string{"session=abc123; Path=/; HttpOnly"},
		Body:       string(echo),
	}, nil
}

func main() {
	switch os.Getenv("FN_MODE") {
	case "init-error":
		url := "http://" + os.Getenv("AWS_LAMBDA_RUNTIME_API") + "/2018-06-01/runtime/init/error"
		body := `{"errorType":"ConfigError","errorMessage":"DATABASE_URL is not set"}`
		req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
		req.Header.Set("Lambda-Runtime-Function-Error-Type", "Runtime.ConfigError")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
		} else {
			fmt.Fprintln(os.Stderr, "init/error:", resp.Status)
		}
		os.Exit(1)
	case "no-next":
		time.Sleep(time.Hour)
	}
	lambda.Start(handle)
}
