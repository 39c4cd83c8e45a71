package mxnet

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
)

// Symbol is an MXNet symbol graph as mx.sym.Symbol.tojson writes it (the
// "-symbol.json" file of a saved module): nodes in topological order,
// variables (op "null") listed in ArgNodes, outputs in Heads.
type Symbol struct {
	Nodes      []SymbolNode     `json:"nodes"`
	ArgNodes   []int            `json:"arg_nodes"`
	NodeRowPtr []int            `json:"node_row_ptr"`
	Heads      [][]int          `json:"heads"`
	Attrs      map[string][]any `json:"attrs,omitempty"`
}

// SymbolNode is one node: an operator, or a variable when Op is "null".
// Inputs are [node, output index, version] triples.
type SymbolNode struct {
	Op     string            `json:"op"`
	Name   string            `json:"name"`
	Attrs  map[string]string `json:"attrs,omitempty"`
	Inputs [][]int           `json:"inputs"`
}

// symbolVersion is the mxnet_version the graphs we write declare (1.2.0,
// the MXNet of SageMaker's first-party algorithm images).
const symbolVersion = 10200

// NewSymbol returns an empty graph.
func NewSymbol() *Symbol {
	return &Symbol{Attrs: map[string][]any{"mxnet_version": {"int", symbolVersion}}}
}

// Add appends a node whose inputs are the first outputs of the given nodes,
// and returns its index. A "null" node is a variable (an argument).
func (s *Symbol) Add(op, name string, attrs map[string]string, inputs ...int) int {
	n := SymbolNode{Op: op, Name: name, Attrs: attrs, Inputs: [][]int{}}
	for _, in := range inputs {
		if in < 0 || in >= len(s.Nodes) {
			panic(fmt.Sprintf("mxnet: Symbol.Add: input %d out of range", in))
		}
		n.Inputs = append(n.Inputs, []int{in, 0, 0})
	}
	i := len(s.Nodes)
	s.Nodes = append(s.Nodes, n)
	if op == "null" {
		s.ArgNodes = append(s.ArgNodes, i)
	}
	s.NodeRowPtr = make([]int, len(s.Nodes)+1)
	for k := range s.NodeRowPtr {
		s.NodeRowPtr[k] = k
	}
	s.Heads = [][]int{{i, 0, 0}}
	return i
}

// Node returns the index of the first node named name, or -1.
func (s *Symbol) Node(name string) int {
	for i, n := range s.Nodes {
		if n.Name == name {
			return i
		}
	}
	return -1
}

// Output returns the node of the graph's first head, or nil.
func (s *Symbol) Output() *SymbolNode {
	if len(s.Heads) == 0 || len(s.Heads[0]) == 0 {
		return nil
	}
	i := s.Heads[0][0]
	if i < 0 || i >= len(s.Nodes) {
		return nil
	}
	return &s.Nodes[i]
}

// JSON returns the graph as MXNet writes it
// (indented by two spaces).
func (s *Symbol) JSON() []byte {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		panic("mxnet: Symbol.JSON: " + err.Error())
	}
	return b
}

// ParseSymbol reads a symbol graph. Graphs from MXNet before 1.0 name node
// attributes "attr" or "param" instead of "attrs"; those are read too.
func ParseSymbol(b []byte) (*Symbol, error) {
	var raw struct {
		Symbol
		Nodes []struct {
			SymbolNode
			Attr  map[string]string `json:"attr"`
			Param map[string]string `json:"param"`
		} `json:"nodes"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("mxnet: symbol JSON: %w", err)
	}
	s := raw.Symbol
	s.Nodes = make([]SymbolNode, len(raw.Nodes))
	for i, n := range raw.Nodes {
		s.Nodes[i] = n.SymbolNode
		if s.Nodes[i].Attrs == nil {
			if n.Attr != nil {
				s.Nodes[i].Attrs = n.Attr
			} else if n.Param != nil {
				s.Nodes[i].Attrs = n.Param
			}
		}
		for _, in := range n.Inputs {
			if len(in) == 0 || in[0] < 0 || in[0] >= i {
				return nil, fmt.Errorf("mxnet: symbol JSON: node %d (%s) has an input %v that is not an earlier node", i, n.Name, in)
			}
		}
	}
	for _, h := range s.Heads {
		if len(h) == 0 || h[0] < 0 || h[0] >= len(s.Nodes) {
			return nil, fmt.Errorf("mxnet: symbol JSON: head %v is not a node", h)
		}
	}
	return &s, nil
}

// ZipEntry is one file of a model archive.
type ZipEntry struct {
	Name string
	Data []byte
}

// WriteZip writes entries, in order, as a ZIP archive with stored (not
// compressed) members, the layout of SageMaker's linear learner
// model_algo-1. Modification times are zero (1980-01-01), so the same
// entries give the same bytes.
func WriteZip(w io.Writer, entries []ZipEntry) error {
	zw := zip.NewWriter(w)
	for _, e := range entries {
		f, err := zw.CreateHeader(&zip.FileHeader{Name: e.Name, Method: zip.Store})
		if err != nil {
			return err
		}
		if _, err := f.Write(e.Data); err != nil {
			return err
		}
	}
	return zw.Close()
}

// maxZipMember bounds one member read by ReadZip (1 GiB).
const maxZipMember = 1 << 30

// ReadZip returns the members of a ZIP archive (stored or deflated) by
// name.
func ReadZip(b []byte) (map[string][]byte, error) {
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return nil, fmt.Errorf("mxnet: not a ZIP archive: %w", err)
	}
	out := make(map[string][]byte, len(zr.File))
	for _, f := range zr.File {
		if f.UncompressedSize64 > maxZipMember {
			return nil, fmt.Errorf("mxnet: ZIP member %s is %d bytes, over the limit of %d", f.Name, f.UncompressedSize64, maxZipMember)
		}
		rc, err := f.Open()
		if err != nil {
			return nil, fmt.Errorf("mxnet: ZIP member %s: %w", f.Name, err)
		}
		data, err := io.ReadAll(io.LimitReader(rc, maxZipMember+1))
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("mxnet: ZIP member %s: %w", f.Name, err)
		}
		if len(data) > maxZipMember {
			return nil, fmt.Errorf("mxnet: ZIP member %s is over the limit of %d bytes", f.Name, maxZipMember)
		}
		out[f.Name] = data
	}
	return out, nil
}
