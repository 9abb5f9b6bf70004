package data

import (
	"bytes"
	"fmt"
	"image"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/mdlc/mdlc/internal/safeio"
	"github.com/mdlc/mdlc/internal/size"
	"github.com/mdlc/mdlc/tensor"
)

// FolderOptions say how LoadFolder sizes images.
type FolderOptions struct {
	// Height and Width resize every image (nearest neighbour, as mdlc run
	// --input does); 0 keeps the size of the first image, which every other
	// must then have.
	Height, Width int
	// Channels is 3 (RGB) or 1 (grayscale); 0 means 3.
	Channels int
}

// imageExts are the files LoadFolder reads, the formats tensor decodes.
var imageExts = map[string]bool{".png": true, ".jpg": true, ".jpeg": true, ".gif": true}

// LoadFolder reads a folder holding one subfolder per class, as Keras's
// image_dataset_from_directory: the classes are the subfolders' names in
// sorted order (see ClassNames), each holding PNG, JPEG or GIF images,
// decoded as tensor.DecodeImage does. Names starting with "." are ignored
// (hidden files); any other file that is not an image of one of those
// kinds, or an empty class, is an error, not skipped.
func LoadFolder(root string, opt FolderOptions, budget size.Budget) (*Memory, error) {
	if opt.Channels == 0 {
		opt.Channels = 3
	}
	if opt.Channels != 1 && opt.Channels != 3 || opt.Height < 0 || opt.Width < 0 || (opt.Height == 0) != (opt.Width == 0) {
		return nil, fmt.Errorf("data: image size %dx%d with %d channels: want both sizes or neither, and 1 or 3 channels", opt.Height, opt.Width, opt.Channels)
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, err
	}
	var names []string
	var files []string
	var labels []int64
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		if !e.IsDir() {
			return nil, fmt.Errorf("%s: a data folder holds one subfolder per class, not files: move it into its class's folder", filepath.Join(root, e.Name()))
		}
		dir := filepath.Join(root, e.Name())
		imgs, err := os.ReadDir(dir)
		if err != nil {
			return nil, err
		}
		n := len(files)
		for _, f := range imgs {
			if strings.HasPrefix(f.Name(), ".") {
				continue
			}
			p := filepath.Join(dir, f.Name())
			if f.IsDir() || !imageExts[strings.ToLower(filepath.Ext(f.Name()))] {
				return nil, fmt.Errorf("%s is not an image (.png, .jpg, .jpeg or .gif): a class folder holds only images", p)
			}
			files = append(files, p)
			labels = append(labels, int64(len(names)))
		}
		if len(files) == n {
			return nil, fmt.Errorf("%s: class folder with no images", dir)
		}
		names = append(names, e.Name())
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("%s has no class subfolders", root)
	}

	fixed := opt.Height != 0 // resize to it; otherwise sizes must agree
	m := &Memory{classes: len(names), names: names, labels: labels}
	for i, p := range files {
		data, err := safeio.ReadFile(p, safeio.MaxImage)
		if err != nil {
			return nil, err
		}
		if m.u8 == nil {
			if opt.Height == 0 {
				cfg, _, err := image.DecodeConfig(bytes.NewReader(data))
				if err != nil {
					return nil, fmt.Errorf("decode %s: %w", p, err)
				}
				opt.Height, opt.Width = cfg.Height, cfg.Width
			}
			m.shape = []int{opt.Height, opt.Width, opt.Channels}
			n, ok := size.Numel([]int{len(files), opt.Height, opt.Width, opt.Channels})
			if !ok {
				return nil, size.Overflow(root)
			}
			if m.u8, err = alloc8(budget, fmt.Sprintf("%d images of %dx%dx%d", len(files), opt.Height, opt.Width, opt.Channels), n); err != nil {
				return nil, err
			}
			m.per = opt.Height * opt.Width * opt.Channels
		}
		if !fixed && i > 0 {
			// No size given: every image must have the first one's.
			if cfg, _, err := image.DecodeConfig(bytes.NewReader(data)); err == nil && (cfg.Height != opt.Height || cfg.Width != opt.Width) {
				return nil, fmt.Errorf("%s is %dx%d (width x height) but %s, the first image, is %dx%d: give a size to resize them all",
					p, cfg.Width, cfg.Height, files[0], opt.Width, opt.Height)
			}
		}
		t, err := tensor.DecodeImageWithin(data, opt.Height, opt.Width, opt.Channels, budget)
		if err != nil {
			return nil, fmt.Errorf("decode %s: %w", p, err)
		}
		// DecodeImage gives v/255 for each 8-bit value v: back to v exactly.
		for j, v := range t.Data {
			m.u8[i*m.per+j] = uint8(math.Round(float64(v) * 255))
		}
	}
	return m, nil
}
