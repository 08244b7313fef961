package keyhook

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
)

// cache keeps what the client needs between runs, per slot (product, license key, device): the
// last good signed answer, the license file and the clock mark, as files in dir (the same names
// and contents as the Rust client's: answer-<slot>.json, file-<slot>.lic, mark-<slot>.json),
// or in memory without a directory. Everything kept is signed or MAC'd and verified again when
// read, so tampering with it only loses it (a missing or altered mark counts as a clock set
// back).
type cache struct {
	dir    string
	mu     sync.Mutex
	memory map[string]string
}

// cachedAnswer: a kept answer, its raw body (what the signature covers) and the nonce it
// answered.
type cachedAnswer struct {
	Body  string `json:"body"`
	Nonce string `json:"nonce"`
}

// cacheSlot names the slot of a (product, license key, device):
// hex(SHA-256(productId 0x00 licenseKey 0x00 deviceId 0x00)[:12]).
func cacheSlot(productID, licenseKey, deviceID string) string {
	h := sha256.New()
	for _, part := range []string{productID, licenseKey, deviceID} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:12])
}

func newCache(dir string) (*cache, error) {
	if dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, &CacheError{err}
		}
	}
	return &cache{dir: dir, memory: map[string]string{}}, nil
}

func (c *cache) read(name string) (string, bool) {
	if c.dir == "" {
		c.mu.Lock()
		defer c.mu.Unlock()
		text, ok := c.memory[name]
		return text, ok
	}
	b, err := os.ReadFile(filepath.Join(c.dir, name))
	if err != nil {
		return "", false
	}
	return string(b), true
}

// write replaces a file atomically (a temporary file, then a rename), so a crash never leaves
// half of one.
func (c *cache) write(name, text string) error {
	if c.dir == "" {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.memory[name] = text
		return nil
	}
	tmp := filepath.Join(c.dir, "."+name+".tmp")
	if err := os.WriteFile(tmp, []byte(text), 0o600); err != nil {
		return &CacheError{err}
	}
	if err := os.Rename(tmp, filepath.Join(c.dir, name)); err != nil {
		return &CacheError{err}
	}
	return nil
}

func (c *cache) remove(name string) {
	if c.dir == "" {
		c.mu.Lock()
		defer c.mu.Unlock()
		delete(c.memory, name)
		return
	}
	// A proof that cannot be removed is still verified again whenever it is read.
	_ = os.Remove(filepath.Join(c.dir, name))
}

func (c *cache) answer(slot string) (cachedAnswer, bool) {
	var a cachedAnswer
	text, ok := c.read("answer-" + slot + ".json")
	if !ok || json.Unmarshal([]byte(text), &a) != nil {
		return a, false
	}
	return a, true
}

func (c *cache) putAnswer(slot string, a cachedAnswer) error {
	b, err := json.Marshal(a)
	if err != nil {
		return &CacheError{err}
	}
	return c.write("answer-"+slot+".json", string(b))
}

func (c *cache) file(slot string) (string, bool) { return c.read("file-" + slot + ".lic") }

func (c *cache) putFile(slot, text string) error { return c.write("file-"+slot+".lic", text) }

// forget drops the answer and file of a slot (after Keyhook said the license is not valid, so a
// revoked license cannot run on its old proof).
func (c *cache) forget(slot string) {
	c.remove("answer-" + slot + ".json")
	c.remove("file-" + slot + ".lic")
}

// hasProof: whether an offline proof (file or answer) is kept for the slot.
func (c *cache) hasProof(slot string) bool {
	_, file := c.file(slot)
	_, answer := c.read("answer-" + slot + ".json")
	return file || answer
}

func (c *cache) mark(slot string) *string {
	text, ok := c.read("mark-" + slot + ".json")
	if !ok {
		return nil
	}
	return &text
}

func (c *cache) putMark(slot, text string) error { return c.write("mark-"+slot+".json", text) }
