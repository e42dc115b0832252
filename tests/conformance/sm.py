#!/usr/bin/env python3
"""The conformance suite: XenServer/XCP-ng's storage manager (SM) against gotap.

Runs every command line of ../shared/docs/BLKTAP-OUTPUT.md against real
images and parses the output as SM parses it (libs/sm/vhdutil.py,
blktap2.py, cleanup.py): query's lines by position, scan's key=value
lines, read -B's raw bytes, read -p's grepped labels, coalesce's regex,
tap-ctl's marker path, pid and stats' first line read with json.loads;
and read's other formats, check's, the maintenance commands' silence.
Expected values come from the spec and from the images' bytes read here
(VHD-FACTS.md: the end of the data, the BAT, bitmaps, batmap, data),
never from gotap's own output.

Targets:
  files    VHDs in regular files (always);
  loop     VHDs in loop devices larger than the images (root only);
  lvm      VHDs in the logical volumes of an LVM volume group on a loop
           device (LVHD), in the QEMU test guest (this host's kernel has
           no device-mapper): this script writes the command lines into
           the guest's share, lvm.guest.sh runs them and records their
           outputs, and the same checks parse them here.

Usage: sm.py [--host] [--guest]   (both by default; `make test` runs
--host, tests/guest/lvm.sh --guest). KEEP=1 keeps the work folder. A
failure names the target, the command line and what was expected; the
exit status is 1 if any failed.
"""

import argparse
import json
import os
import re
import shlex
import shutil
import signal
import struct
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MB = 1 << 20
SECTOR = 512
UNALLOCATED = 0xFFFFFFFF
DUMP = 256 << 10  # bytes of each volume the guest records after each step
DATA_MB = 16  # the data image's size (data_image)
DATA_RUNS = [(4096, 65536), (10 * MB + 4096, 65536)]  # its bytes of DATA_BYTE: in blocks 0 and 5
DATA_BYTE = b"\x5a"


# --- VHD facts, read from the image's bytes (VHD-FACTS.md) -----------------

def roundup(n, to):
    return (n + to - 1) // to * to


class Facts:
    """What a dynamic or differencing VHD's metadata says, from the footer
    copy at offset 0, the header, the BAT, the batmap and the locators."""

    def __init__(self, read_at):
        footer = read_at(0, 512)
        if footer[:8] != b"conectix":
            raise ValueError("no footer copy at offset 0")
        self.size = struct.unpack(">Q", footer[0x30:0x38])[0]
        self.disk_type = struct.unpack(">I", footer[0x3C:0x40])[0]
        hdr_off = struct.unpack(">Q", footer[0x10:0x18])[0]
        h = read_at(hdr_off, 1024)
        if h[:8] != b"cxsparse":
            raise ValueError("no dynamic header")
        bat_off = struct.unpack(">Q", h[0x10:0x18])[0]
        entries, self.block_size = struct.unpack(">II", h[0x1C:0x24])
        self.parent_name = h[0x40:0x240].decode("utf-16-be").rstrip("\0")
        raw = read_at(bat_off, 4 * entries)
        self.bat = list(struct.unpack(">%dI" % entries, raw))
        self.bitmap_size = roundup(self.block_size // SECTOR // 8, SECTOR)
        end = max(hdr_off + 1024, bat_off + roundup(4 * entries, SECTOR))
        bm = read_at(end, 512)  # blktap's batmap header, if any
        self.batmap = b""
        if bm[:8] == b"tdbatmap":
            map_off, map_secs = struct.unpack(">QI", bm[8:20])
            self.batmap = read_at(map_off, map_secs * SECTOR)
            end = max(end + 512, map_off + map_secs * SECTOR)
        for i in range(8):
            code, space, length, _, off = struct.unpack(">IIIIQ", h[0x240 + 24 * i:0x240 + 24 * (i + 1)])
            if code:
                space = space * SECTOR if space < SECTOR else space
                end = max(end, off + space)
        for e in self.bat:
            if e != UNALLOCATED:
                end = max(end, e * SECTOR + self.bitmap_size + self.block_size)
        self.end_of_data = end
        self.read_at = read_at

    def allocated(self):
        """The BAT entries allocated, over the disk's blocks."""
        blocks = (self.size + self.block_size - 1) // self.block_size
        return [e != UNALLOCATED for e in self.bat[:blocks]]

    def bat_bits(self):
        """read -B's bytes: one bit per block, set if allocated, MSB first."""
        bits = self.allocated()
        out = bytearray((len(bits) + 7) // 8)
        for i, a in enumerate(bits):
            if a:
                out[i // 8] |= 0x80 >> (i % 8)
        return bytes(out)

    def sectors_held(self):
        """Sectors whose bitmap bit is set: what the image holds."""
        return sum(bin(b).count("1") for blk, e in enumerate(self.bat) if e != UNALLOCATED for b in self.bitmap(blk))

    def bitmap(self, blk):
        """Block blk's sector bitmap (its bytes that cover the block)."""
        return self.read_at(self.bat[blk] * SECTOR, self.block_size // SECTOR // 8)

    def sector_bit(self, sec):
        """Whether logical sector sec's bit is set in this image."""
        blk, i = divmod(sec, self.block_size // SECTOR)
        return self.bat[blk] != UNALLOCATED and self.bitmap(blk)[i // 8] & (0x80 >> (i % 8)) != 0

    def data_offset(self, sec):
        """Where logical sector sec's data is in the file, or None."""
        blk, i = divmod(sec, self.block_size // SECTOR)
        if self.bat[blk] == UNALLOCATED:
            return None
        return self.bat[blk] * SECTOR + self.bitmap_size + i * SECTOR


def c_hex(n):
    """C's printf("%#llx", n): no 0x before a zero."""
    return "%#x" % n if n else "0"


def file_reader(path):
    def read_at(off, n):
        with open(path, "rb") as f:
            f.seek(off)
            b = f.read(n)
        return b + bytes(n - len(b))
    return read_at


# --- Running command lines --------------------------------------------------

class Result:
    def __init__(self, argv, rc, out, err):
        self.argv, self.rc, self.out, self.err = argv, rc, out, err

    def text(self):
        return self.out.decode(errors="replace")


class Checker:
    """Collects failures, each naming the target, the command line and
    what was expected."""

    def __init__(self):
        self.failures = []
        self.checks = 0

    def run_check(self, check, r):
        """check(r); its own failure (SM's parse of the output, or an image
        unreadable) is a failure too."""
        try:
            check(r)
        except (ValueError, OSError, IndexError, KeyError, TypeError, AttributeError) as e:
            self.checks += 1
            self.failures.append("`%s`: checking its result: %s (stdout %r, stderr %r)" % (shlex.join(r.argv), e, r.out[:200], r.err[-400:]))

    def expect(self, target, r, ok, what):
        self.checks += 1
        if not ok:
            self.failures.append("%s: `%s`: expected %s; got exit %d, stdout %r, stderr %r" % (
                target, shlex.join(r.argv), what, r.rc, r.out[:400], r.err[-400:]))


class Host:
    """Runs each step at once, on this machine."""

    checking = True

    def __init__(self, env, ck):
        self.env, self.ck = env, ck

    def step(self, argv, check=None):
        p = subprocess.run(argv, env=self.env, capture_output=True, timeout=300)
        r = Result(argv, p.returncode, p.stdout, p.stderr)
        if check:
            self.ck.run_check(check, r)
        return r

    def reader(self, path):
        return file_reader(path)

    def capture(self, r, var, parse, shell):
        """A value a later step needs from r's output, or None."""
        try:
            return parse(r.text())
        except (AttributeError, ValueError):
            return None

    def kill(self, pid):
        try:
            os.kill(int(pid), signal.SIGKILL)
        except ProcessLookupError:
            pass



class GuestRecord:
    """Writes the steps into the guest's steps.sh; checks come later."""

    checking = False

    def __init__(self, volumes):
        self.lines, self.n, self.volumes = [], 0, volumes

    def step(self, argv, check=None):
        """A word starting $ stays a substitution for the shell."""
        self.n += 1
        words = ['"%s"' % a if a.startswith("$") else shlex.quote(a) for a in argv]
        self.lines.append("rec %d %s" % (self.n, " ".join(words)))
        return None

    def capture(self, r, var, parse, shell):
        """The guest sets $var from the last step's output with shell."""
        self.lines.append("%s=$(%s)" % (var, shell % ("out/%d.out" % self.n)))
        return "$" + var

    def kill(self, pid):
        pass

    def shell(self, line):
        self.lines.append(line)

    def script(self):
        dumps = " ".join(self.volumes)
        return """# Written by sm.py: SM's command lines, each recorded in out/N.*
rec() {
	n=$1
	shift
	"$@" >out/$n.out 2>out/$n.err
	echo $? >out/$n.rc
	for lv in %s; do
		dd if=/dev/vgsm/$lv of=out/$n.$lv bs=64k count=%d 2>/dev/null
	done
}
%s
""" % (dumps, DUMP // (64 << 10), "\n".join(self.lines))


class GuestReplay:
    """Hands the guest's recorded results to the same checks."""

    checking = True

    def __init__(self, outdir, ck):
        self.outdir, self.n, self.ck = outdir, 0, ck

    def step(self, argv, check=None):
        self.n += 1
        base = os.path.join(self.outdir, str(self.n))
        try:
            with open(base + ".rc") as f:
                rc = int(f.read())
            with open(base + ".out", "rb") as f:
                out = f.read()
            with open(base + ".err", "rb") as f:
                err = f.read()
        except (OSError, ValueError) as e:
            rc, out, err = -1, b"", ("not recorded: %s" % e).encode()
        r = Result(argv, rc, out, err)
        if check:
            self.ck.run_check(check, r)
        return r

    def reader(self, path):
        dump = os.path.join(self.outdir, "%d.%s" % (self.n, os.path.basename(path)))

        def read_at(off, n):
            src = dump
            if off + n > DUMP:
                # Past the metadata: the blocks, recorded once (full.NAME).
                src = os.path.join(self.outdir, "full." + os.path.basename(path))
            with open(src, "rb") as f:
                f.seek(off)
                b = f.read(n)
            return b + bytes(n - len(b))
        return read_at

    capture = Host.capture

    def kill(self, pid):
        pass


# --- Targets ----------------------------------------------------------------

class Target:
    """Where the images live: path(name) names image `name` (base, data,
    leaf); scan_args select them for scan (None: not scanned), whose
    size= is scan_size(printed name)."""

    def __init__(self, kind, paths, journal, device_size=None, canon=None, scan_args=None, scan_size=None):
        self.kind, self.paths, self.journal = kind, paths, journal
        self.device_size = device_size  # bytes of each device; None for files
        self.canon = canon or (lambda n: os.path.realpath(paths[n]))
        self.scan_args, self.scan_size = scan_args, scan_size

    def path(self, name):
        return self.paths[name]


# --- The command lines of BLKTAP-OUTPUT.md, parsed as SM parses them ---------

def sm_query(text):
    """vhdutil.getVHDInfo of `query -vsafp`: MB, bytes, parent (None),
    hidden, blocks."""
    fields = text.strip().split("\n")
    mb, phys = int(fields[0]), int(fields[1])
    parent = None
    if fields[2].find("no parent") == -1:
        parent = fields[2]
    hidden = int(fields[3].replace("hidden: ", ""))
    return mb, phys, parent, hidden, int(fields[4])


def sm_coalesced(text):
    """cleanup.py: re.match(r'^Coalesced (\\d+) sectors', out), or None."""
    m = re.match(r"^Coalesced (\d+) sectors", text)
    return int(m.group(1)) if m else None


def sm_scan(text):
    """vhdutil.getAllVHDs: each line key=value pairs, by vhd name."""
    images = {}
    for line in text.strip().split("\n"):
        kv = dict(f.split("=", 1) for f in line.split())
        images[kv["vhd"]] = kv
    return images


def vhd_util_flow(ex, t, ck):
    """SM's vhd-util command lines on base (created here), data (a VHD with
    blocks, copied in) and leaf (a snapshot of data)."""
    P = t.path
    label = t.kind
    vu = "vhd-util"

    def silent(r):
        ck.expect(label, r, r.rc == 0 and r.out == b"", "exit 0 and nothing on stdout")

    def facts(name):
        return Facts(ex.reader(P(name)))

    def query_vsafp(name, mb, parent, hidden):
        def check(r):
            got = sm_query(r.text())  # a parse failing is reported by run_check
            f = facts(name)
            want = (mb, f.end_of_data + SECTOR, parent, hidden, sum(f.allocated()))
            ck.expect(label, r, r.rc == 0 and got == want,
                      "(MB, end of data + 512, parent, hidden, blocks) = %r, got %r" % (want, got))
            if t.device_size:
                ck.expect(label, r, got[1] != t.device_size, "the physical size not the device's %d" % t.device_size)
        return check

    ex.step([vu, "create", "--debug", "-n", P("base"), "-s", "20", "-S", "40"], silent)
    ex.step([vu, "query", "--debug", "-vsafp", "-n", P("base")], query_vsafp("base", 20, None, 0))
    ex.step([vu, "query", "--debug", "-vsafp", "-n", P("data")], query_vsafp("data", DATA_MB, None, 0))
    ex.step([vu, "snapshot", "--debug", "-n", P("leaf"), "-p", P("data"), "-S", "40"], silent)
    ex.step([vu, "query", "--debug", "-vsafp", "-n", P("leaf")], query_vsafp("leaf", DATA_MB, t.canon("data"), 0))

    def line(want):
        def check(r):
            ck.expect(label, r, r.rc == 0 and r.text() == want, "stdout %r" % want)
        return check

    ex.step([vu, "query", "--debug", "-d", "-n", P("leaf")], line("chain depth: 2\n"))
    ex.step([vu, "query", "--debug", "-S", "-n", P("leaf")], line("40\n"))
    ex.step([vu, "query", "--debug", "-p", "-n", P("base")], line("%s has no parent\n" % P("base")))

    def query_s(name):
        def check(r):
            want = facts(name).end_of_data + SECTOR
            ck.expect(label, r, r.rc == 0 and r.text() == "%d\n" % want, "the end of the data + 512: %d" % want)
        return check

    ex.step([vu, "query", "--debug", "-s", "-n", P("data")], query_s("data"))

    def read_B(name):
        def check(r):
            want = facts(name).bat_bits()
            ck.expect(label, r, r.rc == 0 and r.out == want, "raw bytes %r: the BAT's allocation, one bit a block" % want)
        return check

    ex.step([vu, "read", "--debug", "-B", "-n", P("data")], read_B("data"))
    ex.step([vu, "read", "--debug", "-B", "-n", P("leaf")], read_B("leaf"))

    def read_p(r):
        # SM greps these two labels: the disk type, and the parent as the
        # first 'decoded name' line names it (vhdutil.getParentNoCheck:
        # line.split(':')[1].strip(), a path whose base name it takes).
        lines = r.text().split("\n")
        dt = [l for l in lines if "Disk type" in l]
        dn = [l.split(":")[1].strip() for l in lines if "decoded name" in l]
        want = os.path.basename(P("data"))
        ck.expect(label, r, r.rc == 0 and len(dt) == 1 and "Differencing" in dt[0] and
                  len(dn) > 0 and os.path.basename(dn[0]) == want,
                  "a 'Disk type' line saying Differencing and a first 'decoded name' line naming %s" % want)

    ex.step([vu, "read", "--debug", "-p", "-n", P("leaf")], read_p)

    read_flow(ex, t, ck, facts, line)

    ex.step([vu, "set", "--debug", "-n", P("data"), "-f", "hidden", "-v", "1"], silent)
    ex.step([vu, "query", "--debug", "-f", "-n", P("data")], line("hidden: 1\n"))

    if t.scan_args:
        scan_flow(ex, t, ck, 20)

    def valid(name):
        return line("%s is valid\n" % P(name))

    ex.step([vu, "check", "--debug", "-n", P("leaf")], valid("leaf"))
    ex.step([vu, "check", "--debug", "-n", P("data"), "-i", "-B"], valid("data"))

    ex.step([vu, "resize", "--debug", "-s", "30", "-n", P("base"), "-f"], silent)
    ex.step([vu, "query", "--debug", "-v", "-n", P("base")], line("30\n"))

    # Inflate (SM: the footer to the volume's end) and deflate: the
    # physical size stays the end of the data + 512.
    inflated = t.device_size or 64 * MB
    ex.step([vu, "modify", "--debug", "-s", str(inflated), "-n", P("data")], silent)
    ex.step([vu, "query", "--debug", "-s", "-n", P("data")], query_s("data"))
    ex.step([vu, "check", "--debug", "-n", P("data")], valid("data"))
    # Deflate to the end of the data + 512, which the guest computes
    # itself (this host cannot read its volumes before it runs).
    deflated = str(facts("data").end_of_data + SECTOR) if ex.checking else "$(vhd-util query -s -n %s)" % P("data")
    ex.step([vu, "modify", "--debug", "-s", deflated, "-n", P("data")], silent)
    ex.step([vu, "check", "--debug", "-n", P("data")], valid("data"))

    def coalesced(r):
        ck.expect(label, r, r.rc == 0 and sm_coalesced(r.text()) == 0, "'Coalesced 0 sectors' (the child holds none)")

    ex.step([vu, "coalesce", "--debug", "-n", P("leaf")], coalesced)
    ex.step([vu, "repair", "--debug", "-n", P("base")], silent)

    ex.step([vu, "set", "--debug", "-n", P("data"), "-f", "marker", "-v", "1"], silent)
    ex.step([vu, "query", "--debug", "-m", "-n", P("data")], line("marker: 1\n"))
    if t.scan_args:
        scan_flow(ex, t, ck, 30, markers=True)
    # setSizeVirt (journaled, past the BAT -S reserved), setParent, killData.
    ex.step([vu, "resize", "--debug", "-s", "60", "-n", P("base"), "-j", t.journal], silent)
    ex.step([vu, "query", "--debug", "-v", "-n", P("base")], line("60\n"))
    ex.step([vu, "modify", "--debug", "-p", P("base"), "-n", P("leaf")], silent)
    ex.step([vu, "query", "--debug", "-p", "-n", P("leaf")], line(t.canon("base") + "\n"))
    ex.step([vu, "modify", "--debug", "-z", "-n", P("leaf")], silent)
    ex.step([vu, "read", "--debug", "-B", "-n", P("leaf")], read_B("leaf"))
    # fill: every block allocated, on a volume as in a file.
    ex.step([vu, "fill", "--debug", "-n", P("leaf")], silent)

    def all_blocks(r):
        ck.expect(label, r, r.rc == 0 and r.out == b"\xff" and facts("leaf").bat_bits() == b"\xff",
                  "raw bytes b'\\xff': the leaf's 8 blocks allocated, in its BAT too")

    ex.step([vu, "read", "--debug", "-B", "-n", P("leaf")], all_blocks)
    ex.step([vu, "check", "--debug", "-n", P("leaf")], valid("leaf"))

    missing = P("base") + "-missing"

    def open_error(r):
        want = "error opening %s: -2\n" % missing
        ck.expect(label, r, r.rc == 2 and r.text() == want, "exit 2 (ENOENT) and %r on stdout" % want)

    ex.step([vu, "query", "--debug", "-v", "-n", missing], open_error)


def read_flow(ex, t, ck, facts, line):
    """vhd-util read's options on data (and leaf, through the chain), each
    output against the image's own bytes; and check's."""
    P, label, vu = t.path, t.kind, "vhd-util"
    data = ["-n", P("data")]

    def lines(make):
        """stdout must be the lines make(facts of data) returns."""
        def check(r):
            want = "".join(l + "\n" for l in make(facts("data")))
            ck.expect(label, r, r.rc == 0 and r.text() == want, "stdout %r" % want)
        return check

    def raw(make):
        def check(r):
            want = make(facts("data"))
            ck.expect(label, r, r.rc == 0 and r.out == want, "%d raw bytes (%r...)" % (len(want), want[:16]))
        return check

    def block_lines(f, hexa):
        num = c_hex if hexa else str
        return ["block: %s: offset: %s" % (num(b), "not allocated" if f.bat[b] == UNALLOCATED else num(f.bat[b] * SECTOR))
                for b in range(8)]

    def extents(f):
        runs, start = [], None
        for sec in range(DATA_MB * MB // SECTOR + 1):
            bit = sec < DATA_MB * MB // SECTOR and f.sector_bit(sec)
            if bit and start is None:
                start = sec
            elif not bit and start is not None:
                runs.append("%d %d" % (start, sec - start))
                start = None
        return runs

    def translate(f, secs):
        out = []
        for sec in secs:
            blk, i = divmod(sec, f.block_size // SECTOR)
            off = f.data_offset(sec)
            out.append("logical sector %d: block number: %d, sector offset: %d, file offset: %s" % (
                sec, blk, i, "not allocated" if off is None else off))
        return out

    def batmap_bits(f, blocks):
        return ["batmap for block %d: %d" % (b, (f.batmap[b // 8] >> (7 - b % 8)) & 1) for b in blocks]

    def stderr_lines(make):
        def check(r):
            want = make(facts("data"))
            got = [l for l in r.err.decode(errors="replace").split("\n") if l.startswith("batmap for block")]
            ck.expect(label, r, r.rc == 0 and got == want, "on stderr %r" % want)
        return check

    model = bytearray(DATA_MB * MB)
    for off, n in DATA_RUNS:
        model[off:off + n] = DATA_BYTE * n

    ex.step([vu, "read"] + data + ["-b", "0", "-c", "8"], lines(lambda f: block_lines(f, False)))
    ex.step([vu, "read"] + data + ["-b", "0", "-c", "8", "-x"], lines(lambda f: block_lines(f, True)))
    ex.step([vu, "read"] + data + ["-m", "0"], raw(lambda f: f.bitmap(0) + bytes(f.bitmap_size - len(f.bitmap(0)))))
    ex.step([vu, "read"] + data + ["-m", "1"], line("block 1 not allocated\n"))
    ex.step([vu, "read"] + data + ["-i", "6", "-c", "4"],
            lines(lambda f: ["block 0: sec: %d: %d" % (s, f.sector_bit(s)) for s in range(6, 10)]))
    ex.step([vu, "read"] + data + ["-e", "0", "-c", str(DATA_MB * MB // SECTOR)], lines(extents))
    ex.step([vu, "read"] + data + ["-t", "8", "-c", "2"], lines(lambda f: translate(f, [8, 9])))
    ex.step([vu, "read"] + data + ["-t", "4096"], lines(lambda f: translate(f, [4096])))
    ex.step([vu, "read"] + data + ["-j", "0", "-c", "2"], stderr_lines(lambda f: batmap_bits(f, [0, 1])))
    ex.step([vu, "read"] + data + ["-a"], raw(lambda f: f.batmap))
    ex.step([vu, "read"] + data + ["-d", "0"],
            raw(lambda f: f.read_at(f.bat[0] * SECTOR + f.bitmap_size, f.block_size)))
    ex.step([vu, "read"] + data + ["-r", "8", "-c", "4"], raw(lambda f: bytes(model[4096:4096 + 2048])))
    ex.step([vu, "read", "-n", P("leaf"), "-r", "20480", "-c", "136"],
            raw(lambda f: bytes(model[20480 * SECTOR:(20480 + 136) * SECTOR])))
    ex.step([vu, "read"] + data + ["-R", "4000", "-c", "200"], raw(lambda f: bytes(model[4000:4200])))

    def check_s(r):
        f = facts("data")
        alloc = sum(f.allocated()) * f.block_size // SECTOR
        written = f.sectors_held()
        # NAME: the spec does not say whether as given or its base name;
        # vhd-util/testdata/blktap/check-s.golden says the base name.
        want = "%s: secs allocated: 0x%x secs written: 0x%x (%.2f%%)\n" % (
            os.path.basename(P("data")), alloc, written, 100.0 * written / alloc)
        ck.expect(label, r, r.rc == 0 and r.text() == want, "stdout %r" % want)

    ex.step([vu, "check", "-s"] + data, check_s)
    ex.step([vu, "check", "-b"] + data, line("%s is valid\n" % P("data")))
    ex.step([vu, "check", "-p", "-n", P("leaf")], line("%s is valid\n%s is valid\n" % (P("leaf"), t.canon("data"))))


def scan_flow(ex, t, ck, base_mb, markers=False):
    """vhdutil.getAllVHDs: scan -f -m GLOB [-l VG] -c [-M], lines
    key=value; with -M data's marker is 1, no keyhash."""
    label = t.kind
    argv = ["vhd-util", "scan", "-f", "-c"] + (["-M"] if markers else []) + t.scan_args

    def check(r):
        got = sm_scan(r.text())  # a parse failing is reported by run_check

        def name(n):
            return os.path.basename(t.path(n))
        want = {
            name("base"): (str(base_mb * MB), "0", "none"),
            name("data"): (str(DATA_MB * MB), "1", "none"),
            name("leaf"): (str(DATA_MB * MB), "0", name("data")),
        }
        for n, (cap, hidden, parent) in want.items():
            kv = got.get(n, {})
            size = str(t.scan_size(n))
            ok = kv.get("capacity") == cap and kv.get("size") == size and kv.get("hidden") == hidden and kv.get("parent") == parent
            marker = ""
            if markers:
                marker = "marker=%d keyhash= " % (n == name("data"))
                ok = ok and kv.get("marker") == str(int(n == name("data"))) and kv.get("keyhash") == ""
            ck.expect(label, r, r.rc == 0 and ok,
                      "a line vhd=%s capacity=%s size=%s hidden=%s %sparent=%s" % (n, cap, size, hidden, marker, parent))
        ck.expect(label, r, set(got) == set(want), "the images %s, no others" % sorted(want))

    ex.step(argv, check)


MARKER = re.compile(r"/run/blktap-control/tapdisk/tapdisk-(\d+)$")


def tapctl_flow(ex, t, ck, rundir, write):
    """On a new snapshot of data, blktap2.TapCtl's allocate, spawn,
    attach, open, (4 KiB written through the disk if write), list, stats,
    pause, unpause, close -t 120, detach, free; then coalesce the leaf.
    rundir: where no marker may be left (None: not looked at)."""
    label = t.kind + " tap-ctl"

    def silent(r):
        ck.expect(label, r, r.rc == 0 and r.out == b"", "exit 0 and nothing on stdout")

    # A fresh leaf (a device is written into again; a file was removed).
    ex.step(["vhd-util", "snapshot", "--debug", "-n", t.path("leaf"), "-p", t.path("data")], silent)

    def allocated(r):
        ck.expect(label, r, r.rc == 0 and MARKER.search(r.text().strip()) is not None,
                  "the marker path .../run/blktap-control/tapdisk/tapdisk-N")

    def spawned(r):
        ck.expect(label, r, r.rc == 0 and r.text().strip().isdigit(), "the pid")

    r = ex.step(["tap-ctl", "allocate"], allocated)
    minor = ex.capture(r, "minor", lambda out: MARKER.search(out.strip()).group(1),
                       "sed -n 's|.*/tapdisk-\\([0-9]*\\)$|\\1|p' %s")
    r = ex.step(["tap-ctl", "spawn"], spawned)
    pid = ex.capture(r, "pid", lambda out: str(int(out)), "cat %s")
    if minor is None or pid is None:
        return
    try:
        tapdisk_steps(ex, t, ck, label, minor, pid, rundir, write)
    finally:
        ex.kill(pid)  # a step failed before close


def tapdisk_steps(ex, t, ck, label, minor, pid, rundir, write):
    leaf = t.path("leaf")
    pm = ["-p", pid, "-m", minor]

    def ok(r):
        ck.expect(label, r, r.rc == 0, "exit 0")

    ex.step(["tap-ctl", "attach"] + pm, ok)
    r = ex.step(["tap-ctl", "open"] + pm + ["-a", "vhd:" + leaf], ok)
    # gotap's extra: open prints the disk's NBD URI; write 4 KiB through it.
    wrote = 0
    if write:
        ex.step(["qemu-io", "-f", "raw", "-c", "write -P 7 0 4096", r.text().strip()], ok)
        wrote = 8

    def listed(r):
        lines = [l for l in r.text().split("\n") if " minor=%s " % minor in l]
        kv = dict(f.split("=", 1) for f in lines[0].split()) if len(lines) == 1 else {}
        try:
            int(kv.get("state", "x"), 16)
            state = True
        except ValueError:
            state = False
        ck.expect(label, r, r.rc == 0 and kv.get("pid") == pid and state and kv.get("args") == "vhd:" + leaf,
                  "one line pid=%s minor=%s state=HEX args=vhd:%s" % (pid, minor, leaf))

    ex.step(["tap-ctl", "list"], listed)

    def stats(r):
        s = json.loads(r.text().split("\n")[0])  # SM reads the first line only
        keys = {"name", "secs", "images", "FIXME_enospc_redirect_count", "nbd_mirror_failed", "reqs_outstanding", "read_caching"}
        img = (s.get("images") or [{}])[0]
        ck.expect(label, r, keys <= set(s) and s["name"] == "vhd:" + leaf and s["secs"][1] == wrote and
                  img.get("name") == leaf and img.get("hits", [0, 0])[1] == (1 if wrote else 0) and
                  img.get("driver", {}).get("name") == "vhd" and s["reqs_outstanding"] == 0,
                  "keys %s, name vhd:%s, secs[1] %d, images[0] %s with hits[1] %d, driver vhd" % (
                      sorted(keys), leaf, wrote, leaf, 1 if wrote else 0))

    ex.step(["tap-ctl", "stats"] + pm, stats)
    ex.step(["tap-ctl", "pause"] + pm, ok)
    ex.step(["tap-ctl", "unpause"] + pm, ok)
    ex.step(["tap-ctl", "close"] + pm + ["-t", "120"], ok)
    ex.step(["tap-ctl", "detach"] + pm, ok)
    ex.step(["tap-ctl", "free", "-m", minor], ok)
    left = os.listdir(os.path.join(rundir, "tapdisk")) if rundir and os.path.isdir(os.path.join(rundir, "tapdisk")) else []
    ck.checks += 1
    if left:
        ck.failures.append("%s: the run directory holds %s after free" % (label, left))

    def coalesced(r):
        held = Facts(ex.reader(leaf)).sectors_held()  # coalesce leaves the child as it was
        ck.expect(label, r, r.rc == 0 and sm_coalesced(r.text()) == held == wrote,
                  "'Coalesced %d sectors' (the sectors written through the disk, which the leaf holds: %d)" % (wrote, held))

    ex.step(["vhd-util", "coalesce", "--debug", "-n", leaf], coalesced)


# --- Setup ------------------------------------------------------------------

def build(bindir):
    for cmd in ("vhd-util", "tap-ctl", "tapdisk"):
        subprocess.run(["go", "build", "-o", os.path.join(bindir, cmd), "./" + cmd], cwd=ROOT, check=True)


def data_image(work, env):
    """A DATA_MB VHD holding DATA_RUNS (converted from a raw file): the
    images SM sizes volumes from hold blocks."""
    raw = os.path.join(work, "data.raw")
    with open(raw, "wb") as f:
        f.truncate(DATA_MB * MB)
        for off, n in DATA_RUNS:
            f.seek(off)
            f.write(DATA_BYTE * n)
    out = os.path.join(work, "data.vhd")
    subprocess.run(["vhd-util", "convert", raw, "-n", out], env=env, check=True, capture_output=True)
    return out


def run_host(ck, env, work):
    data = data_image(work, env)

    d = os.path.join(work, "files")
    os.mkdir(d)
    names = {"base": "base.vhd", "data": "data.vhd", "leaf": "leaf.vhd"}
    files = Target("files", {n: os.path.join(d, f) for n, f in names.items()}, os.path.join(work, "files.journal"),
                   scan_args=["-m", os.path.join(d, "*.vhd")], scan_size=lambda n: os.stat(os.path.join(d, n)).st_size)
    shutil.copy(data, files.path("data"))
    host = Host(env, ck)
    vhd_util_flow(host, files, ck)
    os.remove(files.path("leaf"))  # tap-ctl's flow snapshots data anew
    write = shutil.which("qemu-io") is not None
    if not write and os.environ.get("CI") == "true":
        ck.failures.append("tap-ctl: qemu-io missing: no write through the disk")
    tapctl_flow(host, files, ck, env["BLKTAP_RUN_DIR"], write)

    if os.geteuid() != 0 or not shutil.which("losetup"):
        if os.environ.get("CI") == "true":
            ck.failures.append("loop: needs root and losetup")
        else:
            print("sm.py: loop devices skipped (need root and losetup)")
        return
    loops = {}
    try:
        for n in names:
            backing = os.path.join(work, "loop-" + n)
            with open(backing, "wb") as f:
                f.write(b"\xa5" * (32 * MB))  # stale bytes, as a reused device holds
            dev = subprocess.run(["losetup", "-f", "--show", backing], capture_output=True, text=True, check=True).stdout.strip()
            loops[n] = dev
        with open(data, "rb") as src, open(loops["data"], "r+b") as dst:
            shutil.copyfileobj(src, dst)
        # Not scanned: SM scans volumes (-l), not devices named as files.
        loop = Target("loop", loops, os.path.join(work, "loop.journal"), device_size=32 * MB)
        # Block devices are parents only in a folder the operator allows
        # (libvhd/parentpolicy.go): an LVHD host allows its volume groups.
        denv = dict(env, GOTAP_PARENT_DIRS="/dev")
        dev = Host(denv, ck)
        vhd_util_flow(dev, loop, ck)
        tapctl_flow(dev, loop, ck, env["BLKTAP_RUN_DIR"], write)
    finally:
        for dev in loops.values():
            subprocess.run(["losetup", "-d", dev])


LV_MIB = 24


def lvm_target(canon):
    names = {"base": "VHD-base", "data": "VHD-data", "leaf": "VHD-leaf"}
    return Target("lvm", {n: "/dev/vgsm/" + v for n, v in names.items()}, "/tmp/resize.journal", device_size=LV_MIB * MB, canon=canon,
                  scan_args=["-l", "vgsm", "-m", "VHD-*"], scan_size=lambda n: LV_MIB * MB)


def run_guest(ck, env, work):
    share = os.path.join(work, "share")
    os.mkdir(share)
    shutil.copy(data_image(work, env), os.path.join(share, "data.vhd"))
    volumes = ["VHD-base", "VHD-data", "VHD-leaf"]
    with open(os.path.join(share, "volumes"), "w") as f:
        f.writelines("%s %d\n" % (v, LV_MIB) for v in volumes)
    rec = GuestRecord(volumes)
    # The parents' canonical paths, as the guest resolves them.
    rec.shell("for lv in VHD-base VHD-data; do readlink -f /dev/vgsm/$lv >out/canon.$lv; done")
    # Its blocks, which no step changes (read_flow's data).
    rec.shell("dd if=/dev/vgsm/VHD-data of=out/full.VHD-data bs=1M count=8 2>/dev/null")
    t = lvm_target(lambda n: "")
    vhd_util_flow(rec, t, ck)
    tapctl_flow(rec, t, ck, None, False)  # no qemu-io in the guest
    # scan -l activates an inactive volume and deactivates it after.
    rec.shell("lvchange -an vgsm/VHD-base")
    scan_flow(rec, t, ck, 60)
    rec.shell("lvs --noheadings -o lv_name,lv_attr vgsm >out/lvs-after-scan")
    with open(os.path.join(share, "steps.sh"), "w") as f:
        f.write(rec.script())
    p = subprocess.run([os.path.join(ROOT, "scripts/guest/boot.sh"), "-x", "lvm", "-s", share,
                        os.path.join(ROOT, "tests/conformance/lvm.guest.sh")], capture_output=True, text=True)
    print(p.stdout.strip())
    if "GUEST-RESULT: skip" in p.stdout:
        return
    if p.returncode != 0:
        ck.failures.append("lvm: the guest failed: %s\n%s" % (p.stdout.strip(), p.stderr[-3000:]))
        return
    out = os.path.join(share, "out")
    canon = {}
    for n in ("base", "data"):
        with open(os.path.join(out, "canon.VHD-" + n)) as f:
            canon[n] = f.read().strip()
    t = lvm_target(lambda n: canon[n])
    rep = GuestReplay(out, ck)
    vhd_util_flow(rep, t, ck)
    tapctl_flow(rep, t, ck, None, False)
    scan_flow(rep, t, ck, 60)
    with open(os.path.join(out, "lvs-after-scan")) as f:
        attrs = dict(l.split() for l in f if l.strip())
    ck.checks += 1
    attr = attrs.get("VHD-base", "")
    if len(attr) < 5 or attr[4] == "a":
        ck.failures.append("lvm: `vhd-util scan -l vgsm`: expected VHD-base, inactive before, deactivated again; lvs says %r" % attrs)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--host", action="store_true", help="files and loop devices, on this machine")
    ap.add_argument("--guest", action="store_true", help="LVM volumes, in the QEMU test guest")
    args = ap.parse_args()
    if not args.host and not args.guest:
        args.host = args.guest = True
    ck = Checker()
    # KEEP=1 keeps the images, and the guest's records under share/out.
    work = tempfile.mkdtemp(prefix="gotap-sm.")
    try:
        bindir = os.path.join(work, "bin")
        build(bindir)
        env = dict(os.environ, PATH=bindir + os.pathsep + os.environ["PATH"],
                   BLKTAP_RUN_DIR=os.path.join(work, "run", "blktap-control"))
        if args.host:
            run_host(ck, env, work)
        if args.guest:
            run_guest(ck, env, work)
    finally:
        if os.environ.get("KEEP"):
            print("sm.py: kept", work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    for f in ck.failures:
        print("FAIL:", f)
    print("sm.py: %d checks, %d failed" % (ck.checks, len(ck.failures)))
    return 1 if ck.failures else 0


if __name__ == "__main__":
    sys.exit(main())
