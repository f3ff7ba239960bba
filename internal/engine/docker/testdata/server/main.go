// Command server is the test fixture the engine tests build into a
// FROM-scratch image: a tiny HTTP server that can write to its log
// streams on request, reports its own process status, and on request
// burns CPU, dials out or exits. Its one-shot modes (-exit, -cat) stand in for a
// shell in exec tests, since the image has none.
package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

func main() {
	exit := flag.Int("exit", -1, "print -print (and -eprint) and exit with this code instead of serving")
	msg := flag.String("print", "", "line to print to stdout before -exit")
	emsg := flag.String("eprint", "", "line to print to stderr before -exit")
	cat := flag.Bool("cat", false, "copy stdin to stdout, then exit with -exit (0 if unset)")
	flag.Parse()
	if *cat {
		if _, err := io.Copy(os.Stdout, os.Stdin); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(max(*exit, 0))
	}
	if *exit >= 0 {
		fmt.Println(*msg)
		if *emsg != "" {
			fmt.Fprintln(os.Stderr, *emsg)
		}
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
	// /exit?code=N makes the server exit with that code (after answering),
	// as a crash would.
	http.HandleFunc("/exit", func(w http.ResponseWriter, r *http.Request) {
		code, err := strconv.Atoi(r.URL.Query().Get("code"))
		if err != nil {
			http.Error(w, "code must be a number", http.StatusBadRequest)
			return
		}
		fmt.Fprintln(w, "exiting")
		w.(http.Flusher).Flush()
		go func() {
			time.Sleep(50 * time.Millisecond)
			os.Exit(code)
		}()
	})
	// /burn?ms=N spins one CPU until this process has used N ms more CPU
	// time (not N ms of wall time, so a busy host does not shrink it),
	// giving up after 20 s, and answers the CPU ms it used.
	http.HandleFunc("/burn", func(w http.ResponseWriter, r *http.Request) {
		ms, err := strconv.Atoi(r.URL.Query().Get("ms"))
		if err != nil || ms < 0 {
			http.Error(w, "ms must be a count of milliseconds", http.StatusBadRequest)
			return
		}
		start := cpuTime()
		want := time.Duration(ms) * time.Millisecond
		giveUp := time.Now().Add(20 * time.Second)
		for cpuTime()-start < want && time.Now().Before(giveUp) {
			for i := range 100_000 {
				sink += i // kept so the loop is not optimised away
			}
		}
		fmt.Fprintf(w, "burned %d\n", (cpuTime() - start).Milliseconds())
	})
	// /dial?addr=host:port tries a TCP connection with a 1 s timeout and
	// answers "ok" or "error: ..." (always with status 200).
	http.HandleFunc("/dial", func(w http.ResponseWriter, r *http.Request) {
		conn, err := net.DialTimeout("tcp", r.URL.Query().Get("addr"), time.Second)
		if err != nil {
			fmt.Fprintf(w, "error: %v\n", err)
			return
		}
		conn.Close()
		fmt.Fprintln(w, "ok")
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

var sink int

// cpuTime is the CPU time (user and system) this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
