package onnx

import (
	"errors"
	"fmt"
	"unsafe"

	"github.com/mdlc/mdlc/internal/size"
)

// Each function below decodes one message of onnx.proto3, whose field
// numbers its cases carry; fields it has no case for are skipped. Every
// message charges its struct's size before it is kept (see decoder.charge).

func decodeModel(data []byte, budget size.Budget) (*Model, *decoder, error) {
	d := &decoder{budget: budget}
	if err := d.charge(int64(len(data))); err != nil {
		return nil, nil, err
	}
	m, err := d.model(data)
	if err != nil {
		return nil, nil, fmt.Errorf("onnx model: %w", err)
	}
	return m, d, nil
}

func (d *decoder) model(b []byte) (*Model, error) {
	m := &Model{}
	err := fields(b, func(f field) error {
		var err error
		switch f.num {
		case 1:
			m.IRVersion, err = f.int64()
			return at("ir_version", err)
		case 2:
			m.ProducerName, err = f.string()
			return at("producer_name", err)
		case 3:
			m.ProducerVersion, err = f.string()
			return at("producer_version", err)
		case 4:
			m.Domain, err = f.string()
			return at("domain", err)
		case 5:
			m.ModelVersion, err = f.int64()
			return at("model_version", err)
		case 6:
			m.Doc, err = f.string()
			return at("doc_string", err)
		case 7:
			if m.Graph != nil {
				return errors.New("graph: a second graph")
			}
			m.Graph, err = d.graph(f, 1)
			return at("graph", err)
		case 8:
			o, err := d.opset(f)
			m.Opsets = append(m.Opsets, o)
			return atIndex("opset_import", len(m.Opsets)-1, err)
		case 14:
			kv, err := d.keyValue(f)
			m.Metadata = append(m.Metadata, kv)
			return atIndex("metadata_props", len(m.Metadata)-1, err)
		case 25:
			fn, err := d.function(f)
			m.Functions = append(m.Functions, fn)
			return atIndex("functions", len(m.Functions)-1, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if m.Graph == nil {
		return nil, errors.New("no graph: the file is not an ONNX model, or holds only functions")
	}
	return m, nil
}

func (d *decoder) opset(f field) (OpsetID, error) {
	b, err := f.bytes()
	if err != nil {
		return OpsetID{}, err
	}
	var o OpsetID
	err = fields(b, func(f field) error {
		var err error
		switch f.num {
		case 1:
			o.Domain, err = f.string()
			return at("domain", err)
		case 2:
			o.Version, err = f.int64()
			return at("version", err)
		}
		return nil
	})
	return o, err
}

func (d *decoder) keyValue(f field) (KeyValue, error) {
	b, err := f.bytes()
	if err != nil {
		return KeyValue{}, err
	}
	var kv KeyValue
	err = fields(b, func(f field) error {
		var err error
		switch f.num {
		case 1:
			kv.Key, err = f.string()
			return at("key", err)
		case 2:
			kv.Value, err = f.string()
			return at("value", err)
		}
		return nil
	})
	return kv, err
}

// strings appends one string of a repeated string field, charging its
// header (the bytes themselves were charged with the file).
func (d *decoder) strings(dst []string, f field) ([]string, error) {
	s, err := f.string()
	if err != nil {
		return dst, err
	}
	return append(dst, s), d.charge(int64(unsafe.Sizeof(s)))
}

func (d *decoder) graph(f field, depth int) (*Graph, error) {
	b, err := f.bytes()
	if err != nil {
		return nil, err
	}
	if depth > MaxGraphDepth {
		return nil, fmt.Errorf("graphs nested more than %d deep", MaxGraphDepth)
	}
	if err := d.charge(int64(unsafe.Sizeof(Graph{}))); err != nil {
		return nil, err
	}
	g := &Graph{}
	err = fields(b, func(f field) error {
		var err error
		switch f.num {
		case 1:
			n, err := d.node(f, depth)
			g.Nodes = append(g.Nodes, n)
			return atIndex("node", len(g.Nodes)-1, err)
		case 2:
			g.Name, err = f.string()
			return at("name", err)
		case 5:
			t, err := d.tensorField(f)
			g.Initializers = append(g.Initializers, t)
			return atIndex("initializer", len(g.Initializers)-1, err)
		case 10:
			g.Doc, err = f.string()
			return at("doc_string", err)
		case 11:
			v, err := d.valueInfo(f)
			g.Inputs = append(g.Inputs, v)
			return atIndex("input", len(g.Inputs)-1, err)
		case 12:
			v, err := d.valueInfo(f)
			g.Outputs = append(g.Outputs, v)
			return atIndex("output", len(g.Outputs)-1, err)
		case 13:
			v, err := d.valueInfo(f)
			g.ValueInfo = append(g.ValueInfo, v)
			return atIndex("value_info", len(g.ValueInfo)-1, err)
		case 15:
			s, err := d.sparseTensor(f)
			g.SparseInitializers = append(g.SparseInitializers, s)
			return atIndex("sparse_initializer", len(g.SparseInitializers)-1, err)
		}
		return nil
	})
	return g, err
}

func (d *decoder) node(f field, depth int) (*Node, error) {
	b, err := f.bytes()
	if err != nil {
		return nil, err
	}
	if err := d.charge(int64(unsafe.Sizeof(Node{}))); err != nil {
		return nil, err
	}
	n := &Node{}
	err = fields(b, func(f field) error {
		var err error
		switch f.num {
		case 1:
			n.Inputs, err = d.strings(n.Inputs, f)
			return atIndex("input", len(n.Inputs)-1, err)
		case 2:
			n.Outputs, err = d.strings(n.Outputs, f)
			return atIndex("output", len(n.Outputs)-1, err)
		case 3:
			n.Name, err = f.string()
			return at("name", err)
		case 4:
			n.OpType, err = f.string()
			return at("op_type", err)
		case 5:
			a, err := d.attribute(f, depth)
			n.Attrs = append(n.Attrs, a)
			return atIndex("attribute", len(n.Attrs)-1, err)
		case 7:
			n.Domain, err = f.string()
			return at("domain", err)
		}
		return nil
	})
	return n, err
}

func (d *decoder) attribute(f field, depth int) (*Attribute, error) {
	b, err := f.bytes()
	if err != nil {
		return nil, err
	}
	if err := d.charge(int64(unsafe.Sizeof(Attribute{}))); err != nil {
		return nil, err
	}
	a := &Attribute{}
	var floats []byte
	err = fields(b, func(f field) error {
		var err error
		switch f.num {
		case 1:
			a.Name, err = f.string()
			return at("name", err)
		case 2:
			a.F, err = f.float32()
			return at("f", err)
		case 3:
			a.I, err = f.int64()
			return at("i", err)
		case 4:
			a.S, err = f.bytes()
			return at("s", err)
		case 5:
			a.T, err = d.tensorField(f)
			return at("t", err)
		case 6:
			a.G, err = d.graph(f, depth+1)
			return at("g", err)
		case 7:
			floats, err = d.fixed(floats, f, 4)
			return at("floats", err)
		case 8:
			a.Ints, err = d.varints(a.Ints, f, identity)
			return at("ints", err)
		case 9:
			s, err := f.bytes()
			a.Strings = append(a.Strings, s)
			if err == nil {
				err = d.charge(int64(unsafe.Sizeof(s)))
			}
			return atIndex("strings", len(a.Strings)-1, err)
		case 10:
			t, err := d.tensorField(f)
			a.Tensors = append(a.Tensors, t)
			return atIndex("tensors", len(a.Tensors)-1, err)
		case 11:
			g, err := d.graph(f, depth+1)
			a.Graphs = append(a.Graphs, g)
			return atIndex("graphs", len(a.Graphs)-1, err)
		case 20:
			t, err := f.int32()
			a.Type = AttrType(t)
			return at("type", err)
		case 21:
			a.RefAttrName, err = f.string()
			return at("ref_attr_name", err)
		case 22:
			a.SparseTensor, err = d.sparseTensor(f)
			return at("sparse_tensor", err)
		case 23:
			s, err := d.sparseTensor(f)
			a.SparseTensors = append(a.SparseTensors, s)
			return atIndex("sparse_tensors", len(a.SparseTensors)-1, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(floats) > 0 {
		if err := d.charge(int64(len(floats))); err != nil {
			return nil, at("floats", err)
		}
		a.Floats = make([]float32, len(floats)/4)
		for i := range a.Floats {
			a.Floats[i] = float32At(floats, i)
		}
	}
	return a, nil
}

func (d *decoder) valueInfo(f field) (*ValueInfo, error) {
	b, err := f.bytes()
	if err != nil {
		return nil, err
	}
	if err := d.charge(int64(unsafe.Sizeof(ValueInfo{}))); err != nil {
		return nil, err
	}
	v := &ValueInfo{}
	err = fields(b, func(f field) error {
		var err error
		switch f.num {
		case 1:
			v.Name, err = f.string()
			return at("name", err)
		case 2:
			v.Type, err = d.typeProto(f, 1)
			return at("type", err)
		case 3:
			v.Doc, err = f.string()
			return at("doc_string", err)
		}
		return nil
	})
	return v, err
}

func (d *decoder) function(f field) (*Function, error) {
	b, err := f.bytes()
	if err != nil {
		return nil, err
	}
	if err := d.charge(int64(unsafe.Sizeof(Function{}))); err != nil {
		return nil, err
	}
	fn := &Function{}
	err = fields(b, func(f field) error {
		var err error
		switch f.num {
		case 1:
			fn.Name, err = f.string()
			return at("name", err)
		case 4:
			fn.Inputs, err = d.strings(fn.Inputs, f)
			return atIndex("input", len(fn.Inputs)-1, err)
		case 5:
			fn.Outputs, err = d.strings(fn.Outputs, f)
			return atIndex("output", len(fn.Outputs)-1, err)
		case 6:
			fn.Attributes, err = d.strings(fn.Attributes, f)
			return atIndex("attribute", len(fn.Attributes)-1, err)
		case 7:
			n, err := d.node(f, 1)
			fn.Nodes = append(fn.Nodes, n)
			return atIndex("node", len(fn.Nodes)-1, err)
		case 8:
			fn.Doc, err = f.string()
			return at("doc_string", err)
		case 9:
			o, err := d.opset(f)
			fn.Opsets = append(fn.Opsets, o)
			return atIndex("opset_import", len(fn.Opsets)-1, err)
		case 10:
			fn.Domain, err = f.string()
			return at("domain", err)
		}
		return nil
	})
	return fn, err
}

func (d *decoder) sparseTensor(f field) (*SparseTensor, error) {
	b, err := f.bytes()
	if err != nil {
		return nil, err
	}
	if err := d.charge(int64(unsafe.Sizeof(SparseTensor{}))); err != nil {
		return nil, err
	}
	s := &SparseTensor{}
	err = fields(b, func(f field) error {
		var err error
		switch f.num {
		case 1:
			s.Values, err = d.tensorField(f)
			return at("values", err)
		case 2:
			s.Indices, err = d.tensorField(f)
			return at("indices", err)
		case 3:
			s.Dims, err = d.varints(s.Dims, f, identity)
			return at("dims", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if s.Values == nil || s.Indices == nil {
		return nil, errors.New("a sparse tensor without values or indices")
	}
	if _, err := numel(s.Dims); err != nil {
		return nil, at("dims", err)
	}
	return s, nil
}
