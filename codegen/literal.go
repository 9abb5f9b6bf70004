package codegen

import (
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
)

// literal writes v as a Go expression of its type: structs with their
// non-zero fields by name, slices, arrays, pointers to structs, numbers,
// booleans and strings. It records the package path of every named type it
// writes in imports. Nothing else occurs in a spec; it is an error.
func literal(sb *strings.Builder, v reflect.Value, imports map[string]bool) error {
	t := v.Type()
	if t.PkgPath() != "" {
		imports[t.PkgPath()] = true
	}
	// A named number that writes itself as Go (its constant's name) does.
	if v.Kind() >= reflect.Int && v.Kind() <= reflect.Uint64 && t.PkgPath() != "" && v.CanInterface() {
		if g, ok := v.Interface().(fmt.GoStringer); ok {
			sb.WriteString(g.GoString())
			return nil
		}
	}
	// Any other named number, boolean or string of another package is
	// written as a conversion, which says what it is and uses the package
	// it imports.
	if t.PkgPath() != "" && v.Kind() != reflect.Struct && v.Kind() != reflect.Slice && v.Kind() != reflect.Array && v.Kind() != reflect.Pointer {
		sb.WriteString(t.String() + "(")
		defer sb.WriteString(")")
	}
	switch v.Kind() {
	case reflect.Struct:
		sb.WriteString(t.String() + "{")
		first := true
		for i := range t.NumField() {
			f := v.Field(i)
			if f.IsZero() {
				continue
			}
			if !t.Field(i).IsExported() {
				return fmt.Errorf("%s.%s is not exported", t, t.Field(i).Name)
			}
			if !first {
				sb.WriteString(", ")
			}
			first = false
			sb.WriteString(t.Field(i).Name + ": ")
			if err := literal(sb, f, imports); err != nil {
				return err
			}
		}
		sb.WriteString("}")
	case reflect.Pointer:
		if v.IsNil() {
			sb.WriteString("nil")
			return nil
		}
		sb.WriteString("&")
		return literal(sb, v.Elem(), imports)
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && v.IsNil() {
			sb.WriteString("nil")
			return nil
		}
		if pkg := t.Elem().PkgPath(); pkg != "" {
			imports[pkg] = true
		}
		sb.WriteString(t.String() + "{")
		for i := range v.Len() {
			if i > 0 {
				sb.WriteString(", ")
			}
			if err := literal(sb, v.Index(i), imports); err != nil {
				return err
			}
		}
		sb.WriteString("}")
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		sb.WriteString(strconv.FormatInt(v.Int(), 10))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		sb.WriteString(strconv.FormatUint(v.Uint(), 10))
	case reflect.Float32, reflect.Float64:
		f := v.Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return fmt.Errorf("%s %v has no Go literal", t, f)
		}
		sb.WriteString(strconv.FormatFloat(f, 'g', -1, t.Bits()))
	case reflect.Bool:
		sb.WriteString(strconv.FormatBool(v.Bool()))
	case reflect.String:
		sb.WriteString(strconv.Quote(v.String()))
	default:
		return fmt.Errorf("%s: no literal for a %s", t, v.Kind())
	}
	return nil
}
