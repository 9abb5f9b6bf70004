// Command mdlc compiles and runs neural-network models written in .mdl.
//
// Exit status: 0 on success, 1 when a model, weight file or input is bad, 2
// for usage errors (unknown command or flag, missing argument).
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// command is one subcommand: a usage line, a one-line description and a run
// function that parses its own flags.
type command struct {
	name  string
	args  string
	short string
	run   func(c *cli, args []string) error
}

// commands is the one list of subcommands; help and dispatch read it.
var commands []*command

func init() {
	commands = []*command{
		{name: "check", args: "FILE.mdl", short: "check a program; print diagnostics and exit 1 if it has errors", run: runCheck},
		{name: "fmt", args: "[-w] FILE.mdl", short: "print a program in canonical form (-w: rewrite the file)", run: runFmt},
		{name: "summary", args: "[--json] [--dim NAME=SIZE] [--model M] FILE.mdl", short: "layers, output shapes, parameters and FLOPs, like Keras's summary()", run: runSummary},
		{name: "ir", args: "[--after PASS | --passes] [--weights W | --seed S] [--model M] FILE.mdl", short: "print a model's IR, before or after optimisation", run: runIR},
		{name: "run", args: "[--weights W.safetensors] [--input X.npy|IMG.png|NAME=FILE ...] [--output Y.npy] [--batch N] [--dim NAME=SIZE] [--seed S] [--model M] [-O0] FILE.mdl", short: "run a model on an input (.npy, .png, .jpg) or a sample input", run: runRun},
		{name: "plan", args: "[--batch N] [--dim NAME=SIZE] [--json] [--weights W | --seed S] [-O0] [--model M] FILE.mdl", short: "the compiled schedule, arena offsets and memory figures", run: runPlan},
		{name: "gen", args: "-o DIR [--pkg NAME] [--weights W | --seed S] [--batch N] [--dim NAME=SIZE] [--kernels SET] [--external-weights] [--tests] [--model M] FILE.mdl", short: "compile a model into a Go package: straight-line steps, embedded packed weights", run: runGen},
		{name: "build", args: "-o BIN [--weights W | --seed S] [--batch N] [--dim NAME=SIZE] [--kernels SET] [--model M] FILE.mdl", short: "compile a model into a static binary (GOOS/GOARCH from the environment) that runs it like mdlc run", run: runBuild},
		{name: "init", args: "[--seed S] -o W.safetensors FILE.mdl", short: "write freshly initialised weights (Keras defaults)", run: runInit},
		{name: "layers", args: "", short: "list the built-in layers and their arguments", run: runLayers},
		{name: "bench", args: "[--batch B] [--dim NAME=SIZE] [--threads N] [--runs R | --time D] [--warmup W] [--peak-gflops G] [--json] [--weights W | --seed S] [--model M] FILE.mdl | --peak [--json]", short: "time the optimised plan: median and min latency, GFLOP/s, % of FMA peak", run: runBench},
		{name: "env", args: "", short: "platform, CPU features, kernel sets (MDLC_KERNELS) and GOMAXPROCS", run: runEnv},
	}
}

// cli carries the streams, so tests can run commands in-process.
type cli struct {
	stdout, stderr io.Writer
}

// usageError makes main exit with status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// reported marks an error whose details were already written to stderr.
var errReported = errors.New("errors reported")

func main() {
	os.Exit((&cli{stdout: os.Stdout, stderr: os.Stderr}).main(os.Args[1:]))
}

func (c *cli) main(args []string) int {
	if len(args) == 0 {
		c.usage(c.stderr)
		return 2
	}
	if args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		if len(args) > 1 {
			if cmd := lookup(args[1]); cmd != nil {
				fmt.Fprintf(c.stdout, "usage: mdlc %s %s\n\n%s\n", cmd.name, cmd.args, cmd.short)
				return 0
			}
		}
		c.usage(c.stdout)
		return 0
	}
	cmd := lookup(args[0])
	if cmd == nil {
		fmt.Fprintf(c.stderr, "mdlc: unknown command %q\n", args[0])
		c.usage(c.stderr)
		return 2
	}
	err := cmd.run(c, args[1:])
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(c.stderr, "mdlc %s: %s\nusage: mdlc %s %s\n", cmd.name, ue.msg, cmd.name, cmd.args)
		return 2
	case errors.Is(err, errReported):
		return 1
	default:
		fmt.Fprintf(c.stderr, "mdlc %s: %s\n", cmd.name, err)
		return 1
	}
}

func lookup(name string) *command {
	for _, cmd := range commands {
		if cmd.name == name {
			return cmd
		}
	}
	return nil
}

func (c *cli) usage(w io.Writer) {
	fmt.Fprintln(w, "mdlc compiles and runs neural networks written in .mdl.")
	fmt.Fprintln(w, "\nusage: mdlc COMMAND [arguments]\n\ncommands:")
	for _, cmd := range commands {
		fmt.Fprintf(w, "  %-8s %s\n", cmd.name, cmd.short)
	}
	fmt.Fprintln(w, "\nRun `mdlc help COMMAND` for a command's flags.")
}

// flags makes a flag set that reports problems as usage errors, not exits.
func (c *cli) flags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// parse parses flags (allowed before and after the file argument) and returns
// the positional arguments, checking their count.
func parse(fs *flag.FlagSet, args []string, want int) ([]string, error) {
	pos, err := positional(fs, args)
	if err != nil {
		return nil, err
	}
	if len(pos) != want {
		if want == 1 {
			return nil, usageError{fmt.Sprintf("expected one .mdl file, got %d arguments %s", len(pos), strings.Join(pos, " "))}
		}
		return nil, usageError{fmt.Sprintf("expected %d arguments, got %d", want, len(pos))}
	}
	return pos, nil
}

// positional parses flags placed anywhere among args and returns the other
// arguments.
func positional(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, usageError{"help requested"}
			}
			return nil, usageError{err.Error()}
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}
