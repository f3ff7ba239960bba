package cost

import (
	"fmt"
	"math"
	"strings"
)

// charge prices q Units of p (free allowance first, then the tiers) and
// shows the arithmetic, naming the quantity's unit as label ("requests").
func charge(p Price, q float64, label string) (float64, string) {
	type band struct{ lo, hi, usd float64 }
	bands := []band{{0, math.Inf(1), p.USD}}
	if len(p.Tiers) > 0 {
		bands = bands[:0]
		lo := 0.0
		for _, t := range p.Tiers {
			hi := t.Upto
			if hi == 0 {
				hi = math.Inf(1)
			}
			bands = append(bands, band{lo, hi, t.USD})
			lo = hi
		}
	}
	var cost float64
	var parts []string
	for _, b := range bands {
		o := math.Min(b.hi, q) - math.Max(b.lo, p.Free)
		if o <= 0 {
			continue
		}
		cost += o * b.usd / p.Per
		parts = append(parts, fmt.Sprintf("%s %s × %s%s", qty(o), label, rate(b.usd), per(p.Per)))
	}
	switch {
	case p.Free > 0 && q <= p.Free:
		return 0, fmt.Sprintf("%s %s, within the %s %s free = %s", qty(q), label, qty(p.Free), label, usd(0))
	case p.Free > 0:
		return cost, fmt.Sprintf("%s %s − %s %s free: %s = %s", qty(q), label, qty(p.Free), label, strings.Join(parts, " + "), usd(cost))
	case len(parts) == 0:
		return 0, fmt.Sprintf("0 %s × %s%s = %s", label, rate(firstPaid(p)), per(p.Per), usd(0))
	}
	return cost, strings.Join(parts, " + ") + " = " + usd(cost)
}

// firstPaid is a price's headline USD per Per Units: its first tier's.
func firstPaid(p Price) float64 {
	if len(p.Tiers) > 0 {
		return p.Tiers[0].USD
	}
	return p.USD
}

// item builds the line item for q Units of the table's price id.
func (t *Table) item(service, what, id string, q float64, label string) LineItem {
	p := t.must(id)
	c, arith := charge(p, q, label)
	return LineItem{
		Service: service, Item: what, Quantity: q, Unit: p.Unit,
		UnitPrice: firstPaid(p) / p.Per, Cost: c, Arithmetic: arith,
		Source: p.Source + ", " + p.Date,
	}
}
