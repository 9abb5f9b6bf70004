//go:build ignore

// make_images writes the test images of the shipped models: the first
// example of each class in the MNIST and Fashion-MNIST test sets, as 28×28
// grayscale PNGs named by split index and class (mnist/7_0.png is test
// example 0, a 7). Run from the repository root:
//
//	go run testdata/images/make_images.go
package main

import (
	"fmt"
	"image"
	"image/png"
	"log"
	"os"
	"path/filepath"
	"strings"

	"github.com/mdlc/mdlc/data"
	"github.com/mdlc/mdlc/internal/size"
)

func main() {
	for _, set := range []string{"mnist", "fashion-mnist"} {
		m, err := data.Open(set+":test", data.OpenOptions{Budget: size.Default()})
		if err != nil {
			log.Fatal(err)
		}
		dir := filepath.Join("testdata", "images", set)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			log.Fatal(err)
		}
		seen := map[int64]bool{}
		x, y := make([]float32, 28*28), make([]int64, 1)
		for i := 0; i < m.Len() && len(seen) < 10; i++ {
			if err := m.Batch([]int{i}, x, y); err != nil {
				log.Fatal(err)
			}
			if seen[y[0]] {
				continue
			}
			seen[y[0]] = true
			img := image.NewGray(image.Rect(0, 0, 28, 28))
			for p, v := range x {
				img.Pix[p] = uint8(v*255 + 0.5)
			}
			name := fmt.Sprint(y[0])
			if names := m.ClassNames(); names != nil {
				name = strings.NewReplacer("/", "-", " ", "-").Replace(strings.ToLower(names[y[0]]))
			}
			f, err := os.Create(filepath.Join(dir, fmt.Sprintf("%s_%d.png", name, i)))
			if err != nil {
				log.Fatal(err)
			}
			if err := png.Encode(f, img); err != nil {
				log.Fatal(err)
			}
			if err := f.Close(); err != nil {
				log.Fatal(err)
			}
		}
	}
}
