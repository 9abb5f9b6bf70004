package onnx

import (
	"errors"
	"strconv"
	"strings"
	"unsafe"
)

// MaxTypeDepth bounds types nested in types (a sequence of maps of
// sequences...); real models nest two or three.
const MaxTypeDepth = 32

// TypeKind is which of TypeProto's alternatives a type is.
type TypeKind uint8

// The kinds of TypeProto's oneof value.
const (
	KindUnknown TypeKind = iota // none set, or one this decoder does not know
	KindTensor
	KindSparseTensor
	KindSequence
	KindMap
	KindOptional
)

// Type is a TypeProto. Tensors and sparse tensors have Elem and, when
// HasShape, a Shape (empty for a scalar); sequences and optionals have Inner;
// maps have Key and Inner, the value type. Only tensors become mdlc values:
// the other kinds are decoded so that an importer can name them when it
// refuses them (String).
type Type struct {
	Kind     TypeKind
	Elem     DataType
	HasShape bool
	Shape    []Dim
	Key      DataType
	Inner    *Type
}

// Dim is one dimension of a shape: a size (Value, when Param is ""), a
// symbolic one (Param, e.g. "batch_size"), or unknown (neither set).
type Dim struct {
	Value int64
	Param string
	Known bool // Value was set
}

// String writes the type in ONNX's notation: tensor(float)[N,3,224,224],
// seq(tensor(int64)), map(string,tensor(float)), optional(...).
func (t *Type) String() string {
	var b strings.Builder
	t.write(&b)
	return b.String()
}

func (t *Type) write(b *strings.Builder) {
	inner := func() {
		if t.Inner == nil {
			b.WriteString("?")
			return
		}
		t.Inner.write(b)
	}
	switch t.Kind {
	case KindTensor, KindSparseTensor:
		if t.Kind == KindSparseTensor {
			b.WriteString("sparse_")
		}
		b.WriteString("tensor(" + t.Elem.String() + ")")
		if !t.HasShape {
			return
		}
		b.WriteByte('[')
		for i, d := range t.Shape {
			if i > 0 {
				b.WriteByte(',')
			}
			switch {
			case d.Param != "":
				b.WriteString(d.Param)
			case d.Known:
				b.WriteString(strconv.FormatInt(d.Value, 10))
			default:
				b.WriteByte('?')
			}
		}
		b.WriteByte(']')
	case KindSequence:
		b.WriteString("seq(")
		inner()
		b.WriteByte(')')
	case KindMap:
		b.WriteString("map(" + t.Key.String() + ",")
		inner()
		b.WriteByte(')')
	case KindOptional:
		b.WriteString("optional(")
		inner()
		b.WriteByte(')')
	default:
		b.WriteString("unknown type")
	}
}

func (d *decoder) typeProto(f field, depth int) (*Type, error) {
	b, err := f.bytes()
	if err != nil {
		return nil, err
	}
	if depth > MaxTypeDepth {
		return nil, errors.New("types nested more than " + strconv.Itoa(MaxTypeDepth) + " deep")
	}
	if err := d.charge(int64(unsafe.Sizeof(Type{}))); err != nil {
		return nil, err
	}
	t := &Type{}
	err = fields(b, func(f field) error {
		switch f.num {
		case 1:
			t.Kind = KindTensor
			return at("tensor_type", d.tensorType(t, f))
		case 4:
			t.Kind = KindSequence
			return at("sequence_type", d.innerType(t, f, depth, 1))
		case 5:
			t.Kind = KindMap
			return at("map_type", d.innerType(t, f, depth, 2))
		case 8:
			t.Kind = KindSparseTensor
			return at("sparse_tensor_type", d.tensorType(t, f))
		case 9:
			t.Kind = KindOptional
			return at("optional_type", d.innerType(t, f, depth, 1))
		}
		return nil
	})
	return t, err
}

// tensorType decodes TypeProto.Tensor and TypeProto.SparseTensor, which
// share their fields: elem_type 1, shape 2.
func (d *decoder) tensorType(t *Type, f field) error {
	b, err := f.bytes()
	if err != nil {
		return err
	}
	return fields(b, func(f field) error {
		switch f.num {
		case 1:
			e, err := f.int32()
			t.Elem = DataType(e)
			return at("elem_type", err)
		case 2:
			t.HasShape = true
			return at("shape", d.shape(t, f))
		}
		return nil
	})
}

func (d *decoder) shape(t *Type, f field) error {
	b, err := f.bytes()
	if err != nil {
		return err
	}
	return fields(b, func(f field) error {
		if f.num != 1 {
			return nil
		}
		b, err := f.bytes()
		if err == nil {
			err = d.charge(int64(unsafe.Sizeof(Dim{})))
		}
		if err != nil {
			return atIndex("dim", len(t.Shape), err)
		}
		var dim Dim
		err = fields(b, func(f field) error {
			var err error
			switch f.num {
			case 1:
				dim.Value, err = f.int64()
				dim.Known = true
				return at("dim_value", err)
			case 2:
				dim.Param, err = f.string()
				return at("dim_param", err)
			}
			return nil
		})
		t.Shape = append(t.Shape, dim)
		return atIndex("dim", len(t.Shape)-1, err)
	})
}

// innerType decodes a sequence's or optional's elem_type (field 1) or a
// map's key_type (1) and value_type (2); valueField is the field number of
// the nested TypeProto.
func (d *decoder) innerType(t *Type, f field, depth int, valueField int) error {
	b, err := f.bytes()
	if err != nil {
		return err
	}
	return fields(b, func(f field) error {
		var err error
		switch {
		case int(f.num) == valueField:
			t.Inner, err = d.typeProto(f, depth+1)
			if valueField == 1 {
				return at("elem_type", err)
			}
			return at("value_type", err)
		case valueField == 2 && f.num == 1:
			k, err := f.int32()
			t.Key = DataType(k)
			return at("key_type", err)
		}
		return nil
	})
}
