// Package cli is the command line every algorithm binary shares, exactly as
// SageMaker starts a container: `BINARY train` or `BINARY serve`, with
// --ml-root (default /opt/ml) and --port (default 8080; the
// SAGEMAKER_BIND_TO_PORT environment variable wins) for local use.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"syscall"

	"github.com/mattn/go-isatty"

	"github.com/sagebrush-ml/sagebrush/algorithms"
	"github.com/sagebrush-ml/sagebrush/serve"
	"github.com/sagebrush-ml/sagebrush/trainer"
)

// Main runs the command line of os.Args for algo and exits.
func Main(algo algorithms.Algorithm) {
	os.Exit(Run(context.Background(), algo, os.Args[1:], os.Stdout, os.Stderr))
}

// Run runs one command and returns the exit code: 0 success, 1 algorithm
// error, 2 client error or bad usage, 143 stopped by SIGTERM.
func Run(ctx context.Context, algo algorithms.Algorithm, args []string, stdout, stderr io.Writer) int {
	usage := func() {
		fmt.Fprintf(stderr, "usage: %s train|serve [--ml-root DIR] [--port N]\n", algo.Name())
	}
	if len(args) == 0 || (args[0] != "train" && args[0] != "serve") {
		usage()
		return 2
	}
	cmd := args[0]
	fs := flag.NewFlagSet(algo.Name()+" "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	root := fs.String("ml-root", "/opt/ml", "the SageMaker ml root (config, data, model, output)")
	port := fs.Int("port", 8080, "serve: the port to listen on (SAGEMAKER_BIND_TO_PORT wins)")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "%s %s: unexpected argument %q\n", algo.Name(), cmd, fs.Arg(0))
		usage()
		return 2
	}
	if path := os.Getenv("SAGEBRUSH_CPUPROFILE"); path != "" {
		// A developer's switch: profile before guessing.
		if f, err := os.Create(path); err == nil && pprof.StartCPUProfile(f) == nil {
			defer func() { pprof.StopCPUProfile(); f.Close() }()
		}
	}
	if path := os.Getenv("SAGEBRUSH_MEMPROFILE"); path != "" {
		// Every allocation of the run, by where it was made (go tool
		// pprof -sample_index=alloc_space).
		defer func() {
			if f, err := os.Create(path); err == nil {
				runtime.GC() // the profile stands as of the last collection
				pprof.Lookup("allocs").WriteTo(f, 0)
				f.Close()
			}
		}()
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, os.Interrupt)
	defer stop()
	switch cmd {
	case "train":
		return trainer.Run(ctx, algo, trainer.Options{
			Root:     *root,
			Stdout:   stdout,
			Stderr:   stderr,
			Progress: isTerminal(stderr),
		})
	default:
		err := serve.Run(ctx, algo, serve.Options{Root: *root, Port: *port, Log: stdout})
		if err != nil && !errors.Is(err, context.Canceled) {
			fmt.Fprintf(stderr, "%s serve: %v\n", algo.Name(), err)
			return 1
		}
		return 0
	}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && isatty.IsTerminal(f.Fd())
}
