package keyhook

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// fields reads the members of one JSON object by their exact names (encoding/json alone would
// also match names in another case, and take the last of a member named twice). Absent and null members read as absent; a member of the
// wrong type, or a required one that is absent, makes the whole read malformed (the first
// problem is kept in err).
type fields struct {
	what    string
	members map[string]json.RawMessage
	err     error
}

func readObject(what string, data []byte) *fields {
	f := &fields{what: what}
	members, err := decodeMembers(data)
	if err != nil {
		f.err = verifyErr(ReasonMalformed, "%s: %v", what, err)
	}
	f.members = members
	return f
}

// decodeMembers splits one JSON object into its members, refusing anything else, a member
// named twice (which value counts would depend on the parser) and text after the object.
func decodeMembers(data []byte) (map[string]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, errors.New("not a JSON object")
	}
	members := map[string]json.RawMessage{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		name, _ := tok.(string)
		if _, twice := members[name]; twice {
			return nil, fmt.Errorf("member %q twice", name)
		}
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			return nil, err
		}
		members[name] = value
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("text after the object")
	}
	return members, nil
}

// get decodes member name into target (a pointer to a pointer, a slice or a map); false when it
// is absent or null.
func (f *fields) get(name string, target interface{}) bool {
	if f.err != nil {
		return false
	}
	raw, ok := f.members[name]
	if !ok || bytes.Equal(raw, []byte("null")) {
		return false
	}
	if err := json.Unmarshal(raw, target); err != nil {
		f.err = verifyErr(ReasonMalformed, "%s: %s: %v", f.what, name, err)
		return false
	}
	return true
}

func (f *fields) optString(name string) *string {
	var s string
	if !f.get(name, &s) {
		return nil
	}
	return &s
}

func (f *fields) required(name string, present bool) {
	if !present && f.err == nil {
		f.err = verifyErr(ReasonMalformed, "%s: missing %s", f.what, name)
	}
}

func (f *fields) str(name string) string {
	var s string
	f.required(name, f.get(name, &s))
	return s
}

func (f *fields) boolean(name string) bool {
	var b bool
	f.required(name, f.get(name, &b))
	return b
}

func (f *fields) u32(name string) uint32 {
	var n uint32
	f.required(name, f.get(name, &n))
	return n
}

func (f *fields) u64(name string) uint64 {
	var n uint64
	f.required(name, f.get(name, &n))
	return n
}

func (f *fields) strings(name string) []string {
	var s []string
	f.required(name, f.get(name, &s))
	return s
}

// object reads member name as an object (nil when absent or null).
func (f *fields) object(name string) *fields {
	var raw json.RawMessage
	if !f.get(name, &raw) {
		return nil
	}
	sub := readObject(f.what+"."+name, raw)
	if sub.err != nil && f.err == nil {
		f.err = sub.err
	}
	return sub
}

// objects reads member name as an array of objects (nil when absent or null).
func (f *fields) objects(name string) []*fields {
	var raws []json.RawMessage
	if !f.get(name, &raws) {
		return nil
	}
	out := make([]*fields, 0, len(raws))
	for i, raw := range raws {
		sub := readObject(fmt.Sprintf("%s.%s[%d]", f.what, name, i), raw)
		if sub.err != nil {
			if f.err == nil {
				f.err = sub.err
			}
			return nil
		}
		out = append(out, sub)
	}
	return out
}
