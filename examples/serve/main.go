// Command serve answers image classification requests over HTTP with the
// seed CNN compiled into the Go package ./cnn by mdlc gen: no cgo, no model
// file to ship, one static binary.
//
//	go run ./examples/serve -addr :8080
//	curl -s --data-binary @image.png localhost:8080/classify
//
// POST /classify takes a PNG, JPEG or GIF (resized to 32×32, scaled to [0, 1])
// and answers {"probs": [...10], "top": class}. Each request borrows an
// arena from a pool, so any number run at once on one Model.
package main

//go:generate go run ../../cmd/mdlc gen -o cnn --kernels generic ../../stdlib/cnn.mdl

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"sync"

	"github.com/mdlc/mdlc/examples/serve/cnn"
	"github.com/mdlc/mdlc/tensor"
)

func main() {
	addr := flag.String("addr", "localhost:8080", "address to listen on")
	flag.Parse()
	h, err := newHandler()
	if err != nil {
		log.Fatal(err)
	}
	http.Handle("/classify", h)
	log.Printf("serving the seed CNN (%s kernels) on http://%s/classify", cnn.Kernels, *addr)
	log.Fatal(http.ListenAndServe(*addr, nil))
}

// maxImageBytes bounds a request body.
const maxImageBytes = 8 << 20

type handler struct {
	m      *cnn.Model
	arenas sync.Pool
}

func newHandler() (*handler, error) {
	m, err := cnn.New()
	if err != nil {
		return nil, err
	}
	h := &handler{m: m}
	h.arenas.New = func() any { return m.NewArena(1) }
	return h, nil
}

type response struct {
	Probs []float32 `json:"probs"`
	Top   int       `json:"top"`
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST a PNG or JPEG image", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxImageBytes+1))
	if err != nil || len(body) > maxImageBytes {
		http.Error(w, fmt.Sprintf("the image must be at most %d bytes", maxImageBytes), http.StatusRequestEntityTooLarge)
		return
	}
	img, err := decode(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	probs := make([]float32, cnn.ProbsSize)
	a := h.arenas.Get().(*cnn.Arena)
	err = h.m.RunArena(a, img, probs)
	h.arenas.Put(a)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	top := 0
	for i, p := range probs {
		if p > probs[top] {
			top = i
		}
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(response{Probs: probs, Top: top})
}

// decode turns an encoded image into the model's input, as mdlc run does.
func decode(data []byte) ([]float32, error) {
	s := cnn.ImageShape
	t, err := tensor.DecodeImage(data, s[1], s[2], s[3])
	if err != nil {
		return nil, fmt.Errorf("not a usable PNG, JPEG or GIF image: %w", err)
	}
	return t.Data, nil
}
