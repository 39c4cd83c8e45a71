// Command loadgen drives closed-loop HTTP/1.1 load at one endpoint on
// loopback and prints requests/s and latency percentiles as JSON (see
// package benchmarks/loadgen). make bench uses the library directly; this
// command is for measuring by hand:
//
//	go run ./benchmarks/cmd/loadgen -addr 127.0.0.1:8080 -body rows.csv -c 32 -d 10s
//	go run ./benchmarks/cmd/loadgen -trivial 127.0.0.1:9999   # a trivial server, for the generator's ceiling
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/sagebrush-ml/sagebrush/benchmarks/loadgen"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "host:port of the server")
	path := flag.String("path", "/invocations", "request path")
	bodyFile := flag.String("body", "", "request body file (POST); empty sends GET")
	ct := flag.String("content-type", "text/csv", "Content-Type of the body")
	accept := flag.String("accept", "application/json", "Accept header")
	c := flag.Int("c", 32, "concurrent keep-alive connections")
	d := flag.Duration("d", 10*time.Second, "measured duration")
	warm := flag.Duration("warmup", time.Second, "warm-up before measuring")
	trivial := flag.String("trivial", "", "instead, serve a trivial 200 handler on this address until killed")
	flag.Parse()

	if *trivial != "" {
		ln, err := net.Listen("tcp", *trivial)
		if err == nil {
			err = loadgen.ServeTrivial(ln)
		}
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	headers := map[string]string{"Accept": *accept}
	var body []byte
	if *bodyFile != "" {
		b, err := os.ReadFile(*bodyFile)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		body = b
		headers["Content-Type"] = *ct
	}
	req := loadgen.BuildRequest(*addr, *path, headers, body)
	res, err := loadgen.Run(loadgen.Config{Addr: *addr, Requests: [][]byte{req}, Concurrency: *c, Warmup: *warm, Duration: *d})
	out, _ := json.MarshalIndent(res, "", "  ")
	fmt.Println(string(out))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
