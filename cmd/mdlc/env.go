package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/mdlc/mdlc/runtime/kernels/cpu"
)

// defineEnv prints what decides how fast a plan runs here: the platform, the
// CPU features detected, the kernel sets and the one selected, and
// GOMAXPROCS.
func defineEnv(*flag.FlagSet) func(*cli, []string) error {
	return func(c *cli, _ []string) error {
		selected, err := cpu.Select()
		if err != nil {
			return err
		}
		how := "best available"
		if v := os.Getenv("MDLC_KERNELS"); v != "" {
			how = "MDLC_KERNELS=" + v
		}
		features := cpu.Features()
		if features == "" {
			features = "(none detected)"
		}
		fmt.Fprintf(c.stdout, "platform:   %s/%s\n", runtime.GOOS, runtime.GOARCH)
		fmt.Fprintf(c.stdout, "go:         %s\n", runtime.Version())
		fmt.Fprintf(c.stdout, "cpu:        %s\n", features)
		fmt.Fprintf(c.stdout, "kernels:    %s available; %s selected (%s)\n", kernelSets(), selected, how)
		// A set may run another's code for a family until it has its own.
		var borrowed []string
		for _, impl := range cpu.Implementations(selected) {
			if impl.Runs != selected {
				borrowed = append(borrowed, fmt.Sprintf("%s (%s's)", impl.Family, impl.Runs))
			}
		}
		if len(borrowed) > 0 {
			fmt.Fprintf(c.stdout, "borrowed:   %s\n", strings.Join(borrowed, ", "))
		}
		fmt.Fprintf(c.stdout, "gomaxprocs: %d (%d CPUs)\n", runtime.GOMAXPROCS(0), runtime.NumCPU())
		return nil
	}
}

func kernelSets() string {
	avail := cpu.Available()
	names := make([]string, len(avail))
	for i, s := range avail {
		names[i] = string(s)
	}
	return strings.Join(names, ", ")
}

// modulePath is mdlc's module, which generated packages import.
const modulePath = "github.com/mdlc/mdlc"

// moduleVersion is the version of mdlc this binary was built from: the
// module version when installed with `go install ...@version`, else
// "(devel)", with the VCS revision when the build recorded one.
func moduleVersion() (version, revision string, modified bool) {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "(unknown)", "", false
	}
	version = info.Main.Version
	if info.Main.Path != modulePath {
		// A test binary or another main: find mdlc among the dependencies.
		version = "(devel)"
		for _, d := range info.Deps {
			if d.Path == modulePath {
				version = d.Version
			}
		}
	}
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			revision = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	return version, revision, modified
}

func defineVersion(*flag.FlagSet) func(*cli, []string) error {
	return func(c *cli, _ []string) error {
		version, rev, modified := moduleVersion()
		fmt.Fprintf(c.stdout, "mdlc %s", version)
		if rev != "" {
			fmt.Fprintf(c.stdout, " (commit %.12s", rev)
			if modified {
				fmt.Fprint(c.stdout, ", modified")
			}
			fmt.Fprint(c.stdout, ")")
		}
		fmt.Fprintf(c.stdout, "\n%s %s/%s\nkernels: %s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH, kernelSets())
		return nil
	}
}
