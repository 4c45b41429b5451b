package report

import (
	"fmt"
	"math"
	"strconv"

	"github.com/dustin/go-humanize"
)

// fmtBytes prints sizes in binary units, as devices advertise them ("412 KiB").
func fmtBytes(n int64) string {
	if n <= 0 {
		return "–"
	}
	return humanize.IBytes(uint64(n))
}

// fmtMS prints milliseconds with about three significant digits.
func fmtMS(v float64) string {
	if v <= 0 {
		return "–"
	}
	return fmtNum(v) + " ms"
}

// fmtNum prints about three significant digits without exponent notation for everyday sizes.
func fmtNum(v float64) string {
	switch a := math.Abs(v); {
	case a >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case a >= 1:
		return strconv.FormatFloat(v, 'f', 2, 64)
	case a == 0:
		return "0"
	default:
		return strconv.FormatFloat(v, 'g', 3, 64)
	}
}

// fmtPct prints a 0..1 share as a percentage with two decimals, enough to tell runs apart.
func fmtPct(v float64) string { return fmt.Sprintf("%.2f%%", 100*v) }

// fmtPP prints an accuracy difference in percentage points with its sign.
func fmtPP(d float64) string { return fmt.Sprintf("%+.2f pp", 100*d) }

// fmtRatio prints a ratio against the baseline ("0.25×"); 0 means unknown.
func fmtRatio(r float64) string {
	if r <= 0 {
		return "–"
	}
	return fmtNum(r) + "×"
}
