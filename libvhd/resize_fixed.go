package libvhd

import "fmt"

// resizeFixed grows a fixed image through a journal: its file grows and
// the footer moves to the new end. The bytes that become disk space (the
// old footer, and any padding after it) must read as zeros, so they are
// journaled, and the image disabled while they are zeroed:
//
//  1. the journal: the footer, the bytes to zero, the file's length;
//  2. the footer poisoned where it is (poison.go) and at the new end;
//  3. the old footer and padding zeroed;
//  4. the new footer at the new end (the commit point);
//  5. the journal removed.
func resizeFixed(im *Image, size int64, opts ResizeOptions) error {
	oldSize, fileEnd := im.Size(), im.footerOff+FooterSize
	footerOff := max(size, im.footerOff)
	zeroEnd := min(size, fileEnd) // [oldSize, zeroEnd) becomes disk space
	w, err := createJournal(opts.FS, opts.Journal, im.footer.UUID, opResize, opts.Log)
	if err != nil {
		return err
	}
	spans := []span{{recFooter, im.footerOff, FooterSize}, {recData, oldSize, zeroEnd - oldSize}}
	if err := w.write(im.file, spans, fileEnd); err != nil {
		return err
	}
	if err := im.disable(opts.Journal, im.footerOff, footerOff); err != nil {
		return err
	}
	zeros := make([]byte, min(zeroEnd-oldSize, journalBuffer))
	for off := oldSize; off < zeroEnd; off += int64(len(zeros)) {
		if _, err := im.file.WriteAt(zeros[:min(int64(len(zeros)), zeroEnd-off)], off); err != nil {
			return fmt.Errorf("zero the old footer: %w", err)
		}
	}
	if err := im.file.Sync(); err != nil {
		return err
	}
	return im.enable(grownFooter(im, size), footerOff, opts)
}
