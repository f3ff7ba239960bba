// Command lambdafn is an AWS Lambda function built with aws-lambda-go
// for the serverless integration tests. It answers API Gateway HTTP API
// (payload 2.0) events by path, and EventBridge scheduled events:
//
//	/hello   200 with the method, path, query and body, a header and a cookie
//	/fail    a handler error (errorType *main.ShelfError)
//	/sleep   sleeps ?ms= milliseconds, then answers
//	/raw     a bare JSON value, which API Gateway turns into a 200 body
//
// FN_INIT=fail makes it fail its init: it posts /runtime/init/error and
// exits, as a runtime whose handler cannot load does (aws-lambda-go never
// posts it itself). FN_INIT=silent makes it never ask for an event.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
)

type ShelfError struct{}

func (*ShelfError) Error() string { return "the shelf is empty" }

func handle(ctx context.Context, raw json.RawMessage) (any, error) {
	var probe struct {
		Source     string `json:"source"`
		DetailType string `json:"detail-type"`
	}
	json.Unmarshal(raw, &probe)
	if probe.Source == "aws.events" {
		fmt.Printf("scheduled event: %s\n", probe.DetailType)
		return map[string]bool{"scheduled": true}, nil
	}
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(raw, &ev); err != nil {
		return nil, err
	}
	switch ev.RawPath {
	case "/fail":
		return nil, &ShelfError{}
	case "/sleep":
		ms, _ := strconv.Atoi(ev.QueryStringParameters["ms"])
		time.Sleep(time.Duration(ms) * time.Millisecond)
		return events.APIGatewayV2HTTPResponse{StatusCode: 200, Body: "slept"}, nil
	case "/raw":
		return map[string]string{"answer": "raw"}, nil
	}
	body, _ := json.Marshal(map[string]string{
		"method": ev.RequestContext.HTTP.Method, "path": ev.RawPath, "query": ev.RawQueryString,
		"body": ev.Body, "stage": ev.RequestContext.Stage, "greeting": os.Getenv("GREETING"),
		"sourceIp": ev.RequestContext.HTTP.SourceIP, "xff": ev.Headers["x-forwarded-for"],
	})
	return events.APIGatewayV2HTTPResponse{
		StatusCode: http.StatusCreated,
		Headers:    map[string]string{"Content-Type": "application/json", "X-Fn": "lambdafn"},
		Cookies:    []string{"flavour=lemon; Path=/"},
		Body:       string(body),
	}, nil
}

func main() {
	if os.Getenv("FN_INIT") == "silent" {
		time.Sleep(time.Hour) // never asks for an event
	}
	if os.Getenv("FN_INIT") == "fail" {
		api := os.Getenv("AWS_LAMBDA_RUNTIME_API")
		http.Post("http://"+api+"/2018-06-01/runtime/init/error", "application/json",
			strings.NewReader(`{"errorType":"Runtime.ConfigError","errorMessage":"FN_INIT says fail"}`))
		os.Exit(1)
	}
	lambda.Start(handle)
}
