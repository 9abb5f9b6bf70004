// Package avx2 holds what the kernel generators share on the avo side.
package avx2

import (
	"flag"
	"fmt"
	"log"
	"os"
	"regexp"

	"github.com/mmcloughlin/avo/build"
)

// Generate writes the functions built so far, as avo's build.Generate does
// (to the files its -out and -stubs flags name), then exits with an error if
// they use a register AVX2 lacks (CheckVEX).
func Generate() {
	build.Generate()
	if err := CheckVEX(flag.Lookup("out").Value.String()); err != nil {
		log.Fatal(err)
	}
}

var wide = regexp.MustCompile(`\b[XY](1[6-9]|2[0-9]|3[01])\b`)

// CheckVEX fails if the assembly at path uses X16-X31 or Y16-Y31: AVX2 has
// 16 vector registers, the others need AVX-512's EVEX encodings, and avo,
// which knows all 32, gives them out when the 16 run out.
func CheckVEX(path string) error {
	src, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if r := wide.Find(src); r != nil {
		return fmt.Errorf("%s: %s is not an AVX2 register: keep fewer vectors live (unroll less)", path, r)
	}
	return nil
}
