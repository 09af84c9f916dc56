"""The /proc readers the suite and bench/load.py share: a wrong parse would skew every ratio silently."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from bench import procs

# A real /proc/PID/stat line whose command name holds a space and a bracket, as names may.
STAT = ("4242 (python (x) y) S 1 4242 4242 0 -1 4194560 2155 0 0 0 "
        "250 75 0 0 20 0 3 0 12345 200000000 5000 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0")


def test_parse_stat_counts_fields_after_the_last_bracket():
    assert procs.parse_stat(STAT, tick=100) == 3.25        # (250 user + 75 system) / 100


def test_parse_status_reads_kib_and_none_when_absent():
    text = "Name:\tpython\nVmPeak:\t  300000 kB\nVmRSS:\t   51234 kB\nThreads:\t3\n"
    assert procs.parse_status_kb(text) == 51234
    assert procs.parse_status_kb(text, "VmPeak") == 300000
    assert procs.parse_status_kb("Name:\tzombie\nState:\tZ\n") is None


def test_parse_cpu_busy_leaves_out_idle_and_iowait():
    text = ("cpu  900 0 300 5000 100 0 0 0 0 0\n"
            "cpu0 400 0 100 2500 50 10 5 20 0 0\n"
            "cpu1 500 0 200 2500 50 0 0 0 0 0\n"
            "intr 12345\n")
    busy = procs.parse_cpu_busy(text, tick=100)
    assert busy == {0: 5.35, 1: 7.0}                        # steal (20) counts as busy: we did not get it


def test_readers_on_live_processes():
    start = procs.cpu_seconds(os.getpid())
    deadline = time.process_time() + 0.05
    while time.process_time() < deadline:
        pass
    assert procs.cpu_seconds(os.getpid()) >= start + 0.02
    assert (procs.rss_kb(os.getpid()) or 0) > 1000
    assert procs.cpu_seconds(2**22 + 12345) == 0.0 and procs.rss_kb(2**22 + 12345) is None
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(5)"])
    try:
        assert child.pid in procs.descendants(os.getpid())
    finally:
        child.kill()
        child.wait()


def test_peak_rss_samples_until_the_block_ends():
    with procs.PeakRss([os.getpid()], every=0.01) as peak:
        time.sleep(0.05)
    assert peak.samples >= 2 and peak.peak_kb[os.getpid()] > 1000


def test_command_text_shows_pinning_and_settings():
    text = procs.command_text([procs.PY, "-m", "proxy", "serve"], {0}, {"CAPSULE_PROXY_LOG_LEVEL": "warning", "HOME": "/"})
    assert text == "CAPSULE_PROXY_LOG_LEVEL=warning taskset -c 0 " + os.path.basename(procs.PY) + " -m proxy serve"
