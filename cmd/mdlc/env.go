package main

import (
	"fmt"
	"os"
	"runtime"
	"strings"

	"github.com/mdlc/mdlc/runtime/kernels/cpu"
)

// runEnv prints what decides how fast a plan runs here: the platform, the CPU
// features detected, the kernel sets and the one selected, and GOMAXPROCS.
func runEnv(c *cli, args []string) error {
	if _, err := parse(c.flags("env"), args, 0); err != nil {
		return err
	}
	avail := cpu.Available()
	names := make([]string, len(avail))
	for i, s := range avail {
		names[i] = string(s)
	}
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
	fmt.Fprintf(c.stdout, "kernels:    %s available; %s selected (%s)\n", strings.Join(names, ", "), selected, how)
	fmt.Fprintf(c.stdout, "gomaxprocs: %d (%d CPUs)\n", runtime.GOMAXPROCS(0), runtime.NumCPU())
	return nil
}
