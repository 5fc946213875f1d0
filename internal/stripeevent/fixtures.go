package stripeevent

import (
	"crypto/rand"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tidwall/sjson"
)

// fixtureFS holds one realistic event per file, named <event type>.json.
// The bytes are kept exactly as Stripe would send them (pretty-printed,
// trailing newline) because signatures are computed over raw bytes.
//
//go:embed fixtures/*.json
var fixtureFS embed.FS

const fixtureDir = "fixtures"

// ErrUnknownFixture is returned by Fixture and NewEvent for an event type
// that has no embedded fixture.
var ErrUnknownFixture = errors.New("no fixture for event type")

// fixtureTypes is the sorted list of embedded event types, built once.
var fixtureTypes = sync.OnceValue(func() []string {
	entries, err := fs.ReadDir(fixtureFS, fixtureDir)
	if err != nil {
		// The directory is embedded at build time; failing here means a
		// broken build, not a runtime condition.
		panic(fmt.Sprintf("stripeevent: reading embedded fixtures: %v", err))
	}
	types := make([]string, 0, len(entries))
	for _, e := range entries {
		if name, ok := strings.CutSuffix(e.Name(), ".json"); ok && !e.IsDir() {
			types = append(types, name)
		}
	}
	slices.Sort(types)
	return types
})

// FixtureTypes returns the sorted event types that have an embedded
// fixture. The returned slice is a copy and may be modified.
func FixtureTypes() []string {
	return slices.Clone(fixtureTypes())
}

// Fixture returns the exact embedded bytes of the fixture for eventType.
// The returned slice is a fresh copy. An unknown type yields an error
// wrapping ErrUnknownFixture that lists the available types.
func Fixture(eventType string) ([]byte, error) {
	if !slices.Contains(fixtureTypes(), eventType) {
		return nil, fmt.Errorf("%w %q; available types: %s",
			ErrUnknownFixture, eventType, strings.Join(fixtureTypes(), ", "))
	}
	b, err := fixtureFS.ReadFile(path.Join(fixtureDir, eventType+".json"))
	if err != nil {
		return nil, fmt.Errorf("stripeevent: reading fixture %q: %w", eventType, err)
	}
	return b, nil
}

// NewEvent returns a fresh copy of the fixture for eventType with a new
// random event id and the top-level created set to now.Unix(), so that
// repeated triggers are not deduplicated as the same delivery. All other
// bytes, including formatting, are left as they are. It returns the body
// and the new id.
func NewEvent(eventType string, now time.Time) (body []byte, id string, err error) {
	body, err = Fixture(eventType)
	if err != nil {
		return nil, "", err
	}
	id = NewID()
	// sjson rewrites only the value bytes of existing top-level keys,
	// preserving the rest of the document byte for byte.
	if body, err = sjson.SetBytes(body, "id", id); err != nil {
		return nil, "", fmt.Errorf("stripeevent: setting id on %s fixture: %w", eventType, err)
	}
	if body, err = sjson.SetBytes(body, "created", now.Unix()); err != nil {
		return nil, "", fmt.Errorf("stripeevent: setting created on %s fixture: %w", eventType, err)
	}
	return body, id, nil
}

const (
	idPrefix   = "evt_"
	idRandLen  = 24
	idAlphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
)

// NewID returns a random Stripe-style event id: "evt_" followed by 24
// alphanumeric characters from crypto/rand (about 143 bits of entropy).
func NewID() string {
	// Rejection sampling keeps the distribution uniform: 248 is the
	// largest multiple of 62 that fits in a byte.
	const limit = 256 - 256%len(idAlphabet)
	out := make([]byte, 0, len(idPrefix)+idRandLen)
	out = append(out, idPrefix...)
	var buf [2 * idRandLen]byte
	for len(out) < len(idPrefix)+idRandLen {
		rand.Read(buf[:]) // never returns an error (crypto/rand, Go 1.24+)
		for _, b := range buf {
			if int(b) >= limit {
				continue
			}
			out = append(out, idAlphabet[int(b)%len(idAlphabet)])
			if len(out) == len(idPrefix)+idRandLen {
				break
			}
		}
	}
	return string(out)
}
