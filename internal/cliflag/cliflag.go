// Package cliflag holds the flag types that mdlc's commands and the
// servers mdlc build --serve writes share, so both parse and word them
// alike.
package cliflag

import (
	"errors"
	"fmt"
	"runtime"
	"strconv"

	"github.com/mdlc/mdlc/compile"
	"github.com/mdlc/mdlc/internal/size"
)

// Budget is a size.Budget flag, in bytes as size.Parse reads them (512MiB,
// 8GiB); 0 is no limit.
type Budget size.Budget

func (b *Budget) String() string {
	if b == nil || *b == 0 {
		return ""
	}
	return size.Format(int64(*b))
}

func (b *Budget) Set(v string) error {
	n, err := size.Parse(v)
	if err != nil {
		return err
	}
	if n == 0 {
		n = -1 // no limit, as opposed to the zero value's default
	}
	*b = Budget(n)
	return nil
}

// Positive is an int flag that must be at least 1; 0 means not given.
type Positive int

func (p *Positive) String() string {
	if p == nil || *p == 0 {
		return ""
	}
	return strconv.Itoa(int(*p))
}

func (p *Positive) Set(v string) error {
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return errors.New("must be a whole number of at least 1")
	}
	*p = Positive(n)
	return nil
}

// Threads is --threads: between 1 and compile.MaxThreads().
type Threads int

func (t *Threads) String() string { return (*Positive)(t).String() }

func (t *Threads) Set(v string) error {
	if err := (*Positive)(t).Set(v); err != nil {
		return err
	}
	if int(*t) > compile.MaxThreads() {
		return fmt.Errorf("%s threads is more than %d, the most that can help on this machine's %d CPUs", v, compile.MaxThreads(), runtime.NumCPU())
	}
	return nil
}
