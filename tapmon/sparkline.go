package main

import "strings"

// levels are the eighths of a character cell a sparkline draws with.
var levels = []rune(" ▁▂▃▄▅▆▇█")

// sparkline draws the last width samples, scaled to their own maximum
// (a row's trend shows its shape, the figures beside it the size). A
// non-zero sample gets at least the lowest bar so activity always shows.
func sparkline(samples []float64, width int) string {
	samples = samples[max(len(samples)-width, 0):]
	top := 0.0
	for _, v := range samples {
		top = max(top, v)
	}
	var b strings.Builder
	for _, v := range samples {
		i := 0
		if top > 0 && v > 0 {
			i = max(1, int(v/top*float64(len(levels)-1)+0.5))
		}
		b.WriteRune(levels[i])
	}
	return b.String()
}
