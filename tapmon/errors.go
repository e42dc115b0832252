package main

import "fmt"

// errNotAlive refuses an action on a VBD whose tapdisk is not there.
func errNotAlive(r row) error {
	return fmt.Errorf("minor %d of tapdisk %d is %s", r.Minor, r.Pid, stateOf(r))
}
