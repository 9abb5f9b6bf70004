package plan

import (
	"slices"

	"github.com/mdlc/mdlc/runtime/exec"
)

// Program is a plan as data, for mdlc gen to write out: the executable
// program, each step's info and each slot's label (for comments).
type Program struct {
	*exec.Program
	Info   []StepInfo
	Labels []string
}

// Program returns p's program. It is p's own and must not be modified.
func (p *Plan) Program() Program {
	return Program{Program: p.prog, Info: slices.Clone(p.info), Labels: slices.Clone(p.slotLabels)}
}
