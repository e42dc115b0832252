package main

import "gotap.dev/libvhd"

type revertCmd struct {
	image
	output
	Journal string `short:"j" required:"" placeholder:"JOURNAL" help:"The journal of the interrupted operation (the one its refusals name)."`
}

func (revertCmd) Help() string {
	return `Undoes a journaled operation (resize -j) that was cut short and left the
image disabled: the image is put back exactly as it was before, from the
journal, and the journal removed. Open refuses a disabled image with a
message naming its journal. A journal that is missing, incomplete, not a
journal, or another image's, and an image that is not disabled, are
refused, and nothing is written. Prints nothing on success.

Example:
  vhd-util revert -n disk.vhd -j /var/tmp/disk.vhd.journal`
}

func (c *revertCmd) Run(e *env) error {
	err := libvhd.Revert(c.Name, c.Journal, nil)
	if err != nil {
		return err
	}
	return c.print(e.stdout, map[string]any{"name": c.Name, "journal": c.Journal, "reverted": true})
}
