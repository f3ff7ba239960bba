// Command server is the test fixture the engine tests build into a
// FROM-scratch image: a tiny HTTP server that can write to its log
// streams on request and reports its own process status.
package main

import (
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	exit := flag.Int("exit", -1, "print -print and exit with this code instead of serving")
	msg := flag.String("print", "", "line to print before -exit")
	flag.Parse()
	if *exit >= 0 {
		fmt.Println(*msg)
		os.Exit(*exit)
	}

	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "ok greeting=%s\n", os.Getenv("GREETING"))
	})
	// /log?msg=...&stream=stderr writes one line to stdout or stderr.
	http.HandleFunc("/log", func(w http.ResponseWriter, r *http.Request) {
		out := os.Stdout
		if r.URL.Query().Get("stream") == "stderr" {
			out = os.Stderr
		}
		fmt.Fprintln(out, r.URL.Query().Get("msg"))
		fmt.Fprintln(w, "logged")
	})
	http.HandleFunc("/status", func(w http.ResponseWriter, r *http.Request) {
		b, err := os.ReadFile("/proc/self/status")
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Write(b)
	})

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		s := <-sigs
		fmt.Printf("shutting down on %s\n", s)
		os.Exit(0)
	}()

	fmt.Println("listening on :8080")
	if err := http.ListenAndServe(":8080", nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
