package manifest

import (
	"regexp"

	"github.com/slipwayhq/slipway/internal/core"
)

// networkKeys are the keys of a stage's network block.
var networkKeys = []string{"egress", "attach"}

// networkNameRE is Docker's rule for network names. Whether the network
// exists is only known on the host, so it is checked at deploy time.
var networkNameRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)

const networkNameRule = "use the name of an existing Docker network: letters, digits, '_', '.' and '-', starting with a letter or digit"

// network reads a stage's network block. Egress stays nil (allowed) unless
// written, so the stored spec says what the user said.
func (d *decoder) network(e entry) (core.NetworkSpec, bool) {
	var n core.NetworkSpec
	m, ok := d.mapping(e, "network settings ("+allowedList(networkKeys)+")")
	if !ok {
		return n, false
	}
	good := true
	for _, f := range d.fields(m, e.path, e.path+".", networkKeys, nil) {
		switch f.key {
		case "egress":
			b, ok := d.boolean(f)
			if !ok {
				good = false
				continue
			}
			n.Egress = &b
		case "attach":
			name, ok := d.str(f, networkNameRule)
			if !ok {
				good = false
				continue
			}
			if !networkNameRE.MatchString(name) {
				d.addf(posOf(f.value), "invalid %s %q; %s", f.path, name, networkNameRule)
				good = false
				continue
			}
			n.Attach = name
		}
	}
	return n, good
}
