package main

import (
	"strings"

	"github.com/charmbracelet/bubbles/help"
)

// legend explains the columns: some are not what one would guess.
const legend = `Columns
  R/W IOPS, MiB/s  requests and bytes per second over the last interval
  P50, P99         latency percentiles of the requests of that interval
  INFL             requests in flight now
  RETRY, ERR       requests retried and failed since the VBD opened
  TREND            read+write MiB/s, last samples, scaled to the row
  STATE            running, paused, closed, failed (resume failed),
                   hung (tapdisk alive, not answering), dead (tapdisk
                   killed), gone (tapdisk exited or minor detached)`

// helpView is the full key list and the legend.
func helpView(st styles, keys keyMap, width int) string {
	h := help.New()
	h.Styles, h.Width = st.help, width
	return strings.Join([]string{st.header.Render("Keys"), h.FullHelpView(keys.FullHelp()), "", legend, "", st.dim.Render("any key returns")}, "\n")
}
