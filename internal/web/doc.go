// Package web serves Slipway's dashboard under /ui/ on the API listener:
// a token login with a cookie session, server-rendered pages (stacks,
// stages with approvals and rollbacks, builds with their logs, per-stage
// charts drawn as SVG on the server, a log viewer) and a little vanilla
// JavaScript that only enhances them (live log lines); every page works
// without it. Templates, the stylesheet and the script are embedded.
//
// It reads and acts through the same use cases as the /v1 API (Service)
// plus the metrics and log stores, each behind a small interface declared
// here; it holds no domain logic and never talks to Docker itself.
package web
