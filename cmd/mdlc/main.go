// Command mdlc compiles and runs neural-network models written in .mdl.
//
// Exit status: 0 on success; 1 when a model, weight file or input is bad; 2
// for usage errors (unknown command or flag, missing argument); 3 for an
// internal error (a bug in mdlc), reported once, without a goroutine dump.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"runtime/debug"
	"strings"

	"github.com/mdlc/mdlc/compile"
)

// Exit statuses.
const (
	exitOK       = 0
	exitFailure  = 1
	exitUsage    = 2
	exitInternal = 3
)

// command is one subcommand: a usage line, a one-line description, and
// define, which registers the command's flags on a flag set and returns the
// function that runs it on the positional arguments. Help prints the same
// flag set that parsing uses, so every flag is documented where it is made.
type command struct {
	name  string
	args  string
	short string
	// long, when set, says more in `mdlc help COMMAND`, before the flags.
	long string
	// nargs is the number of positional arguments: exactly min, or min or
	// more when variadic.
	min      int
	variadic bool
	define   func(fs *flag.FlagSet) func(c *cli, args []string) error
}

// commands is the one list of subcommands; help and dispatch read it.
var commands []*command

func init() {
	commands = []*command{
		{name: "check", args: "FILE.mdl ...", short: "check programs; print diagnostics and exit 1 if any has errors", min: 1, variadic: true, define: defineCheck},
		{name: "fmt", args: "[-w | -l | -d] FILE.mdl ...", short: "print programs in canonical form, or rewrite (-w), list (-l) or diff (-d) them", min: 1, variadic: true, define: defineFmt},
		{name: "summary", args: "[flags] FILE.mdl", short: "layers, output shapes, parameters and FLOPs, like Keras's summary()", min: 1, define: defineSummary},
		{name: "ir", args: "[flags] FILE.mdl", short: "print a model's IR, before or after optimisation", min: 1, define: defineIR},
		{name: "run", args: "[flags] FILE.mdl", short: "run a model on an input (.npy, .png, .jpg) or a sample input", min: 1, define: defineRun},
		{name: "plan", args: "[flags] FILE.mdl", short: "the compiled schedule, arena offsets and memory figures", min: 1, define: definePlan},
		{name: "gen", args: "-o DIR [flags] FILE.mdl", short: "compile a model into a Go package: straight-line steps, embedded packed weights", min: 1, define: defineGen},
		{name: "build", args: "-o BIN [flags] FILE.mdl", short: "compile a model into a static binary (GOOS/GOARCH from the environment) that runs it like mdlc run, or with --serve serves it like mdlc serve", min: 1, define: defineBuild},
		{name: "train", args: "--data SPEC [flags] FILE.mdl", short: "train a model, as Keras's fit: progress, validation, checkpoints, resume", long: trainLong, min: 1, define: defineTrain},
		{name: "evaluate", args: "--data SPEC --weights W [flags] FILE.mdl", short: "a model's loss and accuracy on a data set, as Keras's evaluate", min: 1, define: defineEvaluate},
		{name: "import", args: "[-o FILE.mdl] [--dim NAME=SIZE] MODEL.onnx", short: "write an ONNX model as a readable .mdl program and its weights (every command also runs .onnx files directly)", long: importLong(), min: 1, define: defineImport},
		{name: "export", args: "[-o FILE.onnx] [--weights W] [--dim NAME=SIZE] [--opset 17] FILE.mdl", short: "write a model and its weights as an ONNX model (opset 17) for Netron and ONNX Runtime", long: exportLong, min: 1, define: defineExport},
		{name: "init", args: "-o W.safetensors [flags] FILE.mdl", short: "write freshly initialised weights (Keras defaults)", min: 1, define: defineInit},
		{name: "serve", args: "[[NAME=]FILE.mdl | [NAME=]MODEL.onnx | NAME=DIR | STDLIB-NAME ...] [--model-repository DIR] [flags]", short: "serve models over HTTP and gRPC with the Open Inference Protocol (KServe v2): dynamic batching, metrics, limits", long: serveLong, variadic: true, define: defineServe},
		{name: "layers", short: "list the built-in layers and their arguments", define: defineLayers},
		{name: "bench", args: "[flags] FILE.mdl | --peak [--json]", short: "time the optimised plan: median and min latency, GFLOP/s, % of FMA peak", define: defineBench},
		{name: "env", short: "platform, CPU features, kernel sets (MDLC_KERNELS) and GOMAXPROCS", define: defineEnv},
		{name: "version", short: "mdlc's version, the Go version and the kernel sets", define: defineVersion},
	}
}

// cli carries the streams, so tests can run commands in-process.
type cli struct {
	stdout, stderr io.Writer
}

// usageError makes main exit with status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// errReported marks an error whose details were already written to stderr.
var errReported = errors.New("errors reported")

func main() {
	os.Exit((&cli{stdout: os.Stdout, stderr: os.Stderr}).main(os.Args[1:]))
}

func (c *cli) main(args []string) (status int) {
	// A panic is a bug in mdlc: say so once, with what to report, and no
	// goroutine dump (a panic in a kernel's helper goroutine still dumps:
	// the runtime gives no way to catch it from here).
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(c.stderr, "mdlc: internal error: %v\nThis is a bug in mdlc, please report it with the command line, its input files and `mdlc version`.\n", r)
			if os.Getenv("MDLC_TRACEBACK") != "" {
				c.stderr.Write(debug.Stack())
			}
			status = exitInternal
		}
	}()
	if len(args) == 0 {
		c.usage(c.stderr)
		return exitUsage
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		return c.help(args[1:])
	case "--version", "-version":
		args[0] = "version"
	}
	cmd := lookup(args[0])
	if cmd == nil {
		fmt.Fprintf(c.stderr, "mdlc: unknown command %q\n", args[0])
		c.usage(c.stderr)
		return exitUsage
	}
	fs := flag.NewFlagSet(cmd.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	run := cmd.define(fs)
	pos, err := positional(fs, args[1:])
	if errors.Is(err, flag.ErrHelp) {
		cmd.help(c.stdout, fs)
		return exitOK
	}
	if err == nil {
		err = cmd.checkArgs(pos)
	}
	if err == nil {
		err = run(c, pos)
	}
	return c.exit(cmd, err)
}

// exit reports err and returns the exit status it calls for.
func (c *cli) exit(cmd *command, err error) int {
	var ue usageError
	var cue *compile.UsageError
	var diags compile.Diagnostics
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(c.stderr, "mdlc %s: %s\nusage: mdlc %s %s (mdlc help %s for the flags)\n", cmd.name, ue.msg, cmd.name, cmd.args, cmd.name)
		return exitUsage
	case errors.As(err, &cue):
		fmt.Fprintf(c.stderr, "mdlc %s: %s\nusage: mdlc %s %s (mdlc help %s for the flags)\n", cmd.name, cue.Msg, cmd.name, cmd.args, cmd.name)
		return exitUsage
	case errors.Is(err, errReported):
		return exitFailure
	case errors.As(err, &diags):
		fmt.Fprint(c.stderr, diags.Render())
		return exitFailure
	default:
		fmt.Fprintf(c.stderr, "mdlc %s: %s\n", cmd.name, err)
		return exitFailure
	}
}

// flagError words the flag package's errors as mdlc's own: the flag as
// written on a command line (--batch), then what is wrong.
func flagError(err error) string {
	msg := err.Error()
	if m := invalidFlag.FindStringSubmatch(msg); m != nil {
		return fmt.Sprintf("--%s %s: %s", m[2], m[1], m[3])
	}
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
		return fmt.Sprintf("unknown flag --%s", name)
	}
	if name, ok := strings.CutPrefix(msg, "flag needs an argument: -"); ok {
		return fmt.Sprintf("flag --%s needs a value", name)
	}
	return msg
}

var invalidFlag = regexp.MustCompile(`^invalid (?:boolean )?value "(.*)" for flag -(\S+): (.*)$`)

func lookup(name string) *command {
	for _, cmd := range commands {
		if cmd.name == name {
			return cmd
		}
	}
	return nil
}

func (cmd *command) checkArgs(pos []string) error {
	switch {
	case cmd.variadic && len(pos) < cmd.min:
		return usagef("expected one .mdl file or more, got none")
	case !cmd.variadic && cmd.min == 0 && len(pos) > 0 && cmd.name != "bench":
		return usagef("takes no arguments, got %s", strings.Join(pos, " "))
	case !cmd.variadic && cmd.min == 1 && len(pos) != 1:
		return usagef("expected one .mdl file, got %d arguments %s", len(pos), strings.Join(pos, " "))
	}
	return nil
}

// help prints the commands, or one command's usage and every flag with its
// default and meaning.
func (c *cli) help(args []string) int {
	if len(args) == 0 {
		c.usage(c.stdout)
		return exitOK
	}
	cmd := lookup(args[0])
	if cmd == nil || len(args) > 1 {
		fmt.Fprintf(c.stderr, "mdlc help: unknown help topic %q\n", strings.Join(args, " "))
		c.usage(c.stderr)
		return exitUsage
	}
	fs := flag.NewFlagSet(cmd.name, flag.ContinueOnError)
	cmd.define(fs)
	cmd.help(c.stdout, fs)
	return exitOK
}

func (cmd *command) help(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintf(w, "usage: mdlc %s %s\n\n%s.\n", cmd.name, cmd.args, upperFirst(cmd.short))
	if cmd.long != "" {
		fmt.Fprintf(w, "\n%s\n", cmd.long)
	}
	has := false
	fs.VisitAll(func(*flag.Flag) { has = true })
	if has {
		fmt.Fprintln(w, "\nflags:")
		fs.VisitAll(func(f *flag.Flag) { printFlag(w, f) })
	}
}

// printFlag prints one flag as it is written on a command line, its value's
// kind, its meaning and its default.
func printFlag(w io.Writer, f *flag.Flag) {
	kind, usage := flag.UnquoteUsage(f)
	dash := "--"
	if len(f.Name) <= 2 {
		dash = "-" // -o, -w, -O0: written as Go's tools write them
	}
	fmt.Fprintf(w, "  %s%s", dash, f.Name)
	if kind != "" {
		fmt.Fprintf(w, " %s", strings.ToUpper(kind))
	}
	fmt.Fprintf(w, "\n      %s", usage)
	if def := f.DefValue; def != "" && def != "false" && def != "0" {
		fmt.Fprintf(w, " (default %s)", def)
	}
	fmt.Fprintln(w)
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func (c *cli) usage(w io.Writer) {
	fmt.Fprintln(w, "mdlc compiles and runs neural networks written in .mdl.")
	fmt.Fprintln(w, "\nusage: mdlc COMMAND [arguments]\n\ncommands:")
	for _, cmd := range commands {
		fmt.Fprintf(w, "  %-8s %s\n", cmd.name, cmd.short)
	}
	fmt.Fprintln(w, "\nRun `mdlc help COMMAND` (or `mdlc COMMAND -h`) for a command's flags.")
}

// positional parses flags placed anywhere among args and returns the other
// arguments. A lone "--" ends the flags.
func positional(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageError{flagError(err)}
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}
