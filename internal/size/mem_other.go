//go:build !linux

package size

// physicalMemory is unknown here: Default falls back to a fixed budget.
func physicalMemory() int64 { return 0 }
