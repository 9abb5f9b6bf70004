package data

import (
	"fmt"

	"github.com/mdlc/mdlc/internal/safeio"
	"github.com/mdlc/mdlc/internal/size"
)

// CIFAR's binary version (https://www.cs.toronto.edu/~kriz/cifar.html): a
// batch file is a run of records, each the label byte(s) then 3072 bytes of
// a 32×32 RGB image as three planes (all red, then green, then blue, each row
// by row). CIFAR-10 has one label byte (0..9); CIFAR-100 two, the coarse
// label (0..19) then the fine one (0..99).

const (
	cifarSide   = 32
	cifarPixels = cifarSide * cifarSide * 3
)

// CIFAR selects the variant and, for CIFAR-100, the label served.
type CIFAR int

const (
	CIFAR10        CIFAR = iota // 1 label byte, 10 classes
	CIFAR100Fine                // 2 label bytes, the fine label: 100 classes
	CIFAR100Coarse              // 2 label bytes, the coarse label: 20 classes
)

func (c CIFAR) labelBytes() int {
	if c == CIFAR10 {
		return 1
	}
	return 2
}

func (c CIFAR) classes() int {
	return [...]int{CIFAR10: 10, CIFAR100Fine: 100, CIFAR100Coarse: 20}[c]
}

// LoadCIFAR reads CIFAR binary batch files (e.g. data_batch_1.bin to
// data_batch_5.bin) into one data set of [32, 32, 3] images, planes turned
// into NHWC and scaled by 1/255. Each file must be a whole number of
// records; every label must be in range.
func LoadCIFAR(variant CIFAR, budget size.Budget, files ...string) (*Memory, error) {
	if variant < CIFAR10 || variant > CIFAR100Coarse {
		return nil, fmt.Errorf("data: unknown CIFAR variant %d", variant)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("data: no CIFAR batch files given")
	}
	rec := int64(variant.labelBytes() + cifarPixels)
	// Each file's size is known before it is read: check the total first.
	var total int64
	for _, path := range files {
		f, st, err := safeio.Open(path)
		if err != nil {
			return nil, err
		}
		f.Close()
		if st.Size() == 0 || st.Size()%rec != 0 {
			return nil, fmt.Errorf("%s: %d bytes is not a whole number of %d-byte records: the file is truncated (record %d is incomplete) or not a %s batch",
				path, st.Size(), rec, st.Size()/rec, variant)
		}
		var ok bool
		if total, ok = size.Add(total, st.Size()); !ok {
			return nil, size.Overflow("the CIFAR batch files")
		}
	}
	pix, err := alloc8(budget, fmt.Sprintf("%d CIFAR batch files", len(files)), total/rec*cifarPixels)
	if err != nil {
		return nil, err
	}
	m := &Memory{shape: []int{cifarSide, cifarSide, 3}, per: cifarPixels, classes: variant.classes(), u8: pix, labels: make([]int64, 0, total/rec)}
	for _, path := range files {
		data, err := safeio.ReadFile(path, total)
		if err != nil {
			return nil, err
		}
		if int64(len(data))%rec != 0 {
			return nil, fmt.Errorf("%s changed while it was read", path)
		}
		first := len(m.labels)
		if m.labels, err = decodeCIFAR(data, variant, m.u8[first*cifarPixels:], m.labels); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	return m, nil
}

// decodeCIFAR appends the labels of the records in data to labels and writes
// their images, NHWC, to pix.
func decodeCIFAR(data []byte, variant CIFAR, pix []uint8, labels []int64) ([]int64, error) {
	lb := variant.labelBytes()
	rec := lb + cifarPixels
	if len(data)%rec != 0 {
		return labels, fmt.Errorf("truncated: record %d is incomplete (%d of %d bytes)", len(data)/rec, len(data)%rec, rec)
	}
	if len(pix) < len(data)/rec*cifarPixels {
		return labels, fmt.Errorf("more records than the file's size declared")
	}
	classes := int64(variant.classes())
	for i := 0; i < len(data)/rec; i++ {
		r := data[i*rec : (i+1)*rec]
		l := int64(r[0])
		if variant == CIFAR100Fine {
			l = int64(r[1])
		}
		if l >= classes {
			return labels, fmt.Errorf("record %d: label %d is out of range: want 0 to %d", i, l, classes-1)
		}
		labels = append(labels, l)
		planes := r[lb:]
		out := pix[i*cifarPixels : (i+1)*cifarPixels]
		const plane = cifarSide * cifarSide
		for p := range plane {
			out[3*p], out[3*p+1], out[3*p+2] = planes[p], planes[plane+p], planes[2*plane+p]
		}
	}
	return labels, nil
}

func (c CIFAR) String() string {
	return [...]string{CIFAR10: "CIFAR-10", CIFAR100Fine: "CIFAR-100", CIFAR100Coarse: "CIFAR-100"}[c]
}
