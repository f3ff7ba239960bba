// Package starter owns the starter templates that `slipway init` scaffolds
// into a new directory, embedded in the binary so init works offline.
//
// Each directory under templates/ is one template. Files ending in .tmpl
// are rendered with text/template (data: .Name, the stack name) and
// written without the suffix; every other file is copied verbatim. A
// template's Go files are real files of this module, so `go vet` and
// `go test` cover the starter apps too; that is why their go.mod is kept
// as go.mod.tmpl (a go.mod would split them into a module of their own,
// which go:embed refuses).
//
// The package only writes files. It must not run builds, talk to the
// server, or overwrite anything: Scaffold refuses a non-empty directory.
package starter
